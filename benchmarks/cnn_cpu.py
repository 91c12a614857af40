"""MNIST-1D's CNN: is a vmapped chunk slower per run than single runs, and which form
of the convolution is faster?

    python benchmarks/cnn_cpu.py [--seeds 8 32] [--epochs 2] [--steps 50] [--out FILE]

Part 1 times the engine itself on `mnist1d/models` restricted to the CNN: one vmapped
chunk of N runs (`jaxstab.sweep.execute`) against the same N runs one at a time
(`execute(..., vmapped=False)`), compile excluded (each program is called once first).
Part 2 times the two forms of the convolution in a minimal Adam training loop (batch
100, length 40, 25 channels): `flax.linen.Conv` (which vmap turns into a grouped
convolution) and `jaxstab.builtin.models.Conv1D` (patches by strided slices, one matrix
product), each vmapped over N seeds and as a loop of single runs.
"""

from __future__ import annotations

import argparse
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxstab.builtin.models import Conv1D
from jaxstab.loader import load_study, study_from_dict
from jaxstab.sweep import execute


def mnist1d_study(epochs: int, model: str = "cnn"):
    d = load_study("mnist1d/models").to_dict()
    d["factors"] = {"model": [model]}
    d["claims"] = []
    d["train"]["epochs"] = epochs
    return study_from_dict(d)


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def engine_rows(seeds: list[int], epochs: int, repeat: int) -> list[str]:
    study = mnist1d_study(epochs)
    setting = study.settings()[0]
    rows = []
    for n in seeds:
        settings, ks = [setting] * n, list(range(n))
        run_v = lambda: execute(settings, ks, study_seed=study.seed)  # noqa: E731
        run_1 = lambda: execute(settings, ks, study_seed=study.seed,  # noqa: E731
                                vmapped=False)
        run_v(), run_1()  # compile both
        tv, t1 = _best(run_v, repeat), _best(run_1, repeat)
        rows.append(f"| engine | {n} | {epochs} epochs | {1e3 * tv / n:.1f} | "
                    f"{1e3 * t1 / n:.1f} | {tv / t1:.2f} |")
    return rows


class Net(nn.Module):
    """MNIST-1D's CNN with either form of convolution, or (``conv="mlp"``) its MLP."""

    conv: str

    @nn.compact
    def __call__(self, x):
        if self.conv == "mlp":
            h = nn.relu(nn.Dense(100)(x))
            return nn.Dense(10)(nn.relu(nn.Dense(100)(h)))
        h = x[..., None]
        for k in (5, 3, 3):
            layer = (nn.Conv(25, (k,), strides=(2,), padding=[(1, 1)])
                     if self.conv == "flax.linen.Conv" else Conv1D(25, k))
            h = nn.relu(layer(h))
        return nn.Dense(10)(h.reshape(h.shape[0], -1))


def hand_written(model, steps: int, batch: int = 100):
    opt = optax.adam(0.01)
    x = jax.random.normal(jax.random.PRNGKey(0), (batch * 8, 40))
    y = jnp.arange(batch * 8) % 10

    def run(key):
        params = model.init(key, x[:2])

        def step(carry, i):
            p, st = carry
            xb = jax.lax.dynamic_slice_in_dim(x, (i % 8) * batch, batch)
            yb = jax.lax.dynamic_slice_in_dim(y, (i % 8) * batch, batch)
            loss, g = jax.value_and_grad(lambda p: optax.softmax_cross_entropy_with_integer_labels(
                model.apply(p, xb), yb).mean())(p)
            up, st = opt.update(g, st, p)
            return (optax.apply_updates(p, up), st), loss

        (_, _), losses = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(steps))
        return losses[-1]

    return run


def form_rows(seeds: list[int], steps: int, repeat: int) -> list[str]:
    rows = []
    for conv in ("flax.linen.Conv", "Conv1D"):
        run = hand_written(Net(conv), steps)
        vmapped, single = jax.jit(jax.vmap(run)), jax.jit(run)
        for n in seeds:
            keys = jax.random.split(jax.random.PRNGKey(1), n)
            vmapped(keys).block_until_ready()
            single(keys[0]).block_until_ready()
            tv = _best(lambda: vmapped(keys).block_until_ready(), repeat)
            t1 = _best(lambda: [single(k).block_until_ready() for k in keys], repeat)
            rows.append(f"| {conv} | {n} | {steps} steps | {1e3 * tv / n:.1f} | "
                        f"{1e3 * t1 / n:.1f} | {tv / t1:.2f} |")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[8, 32])
    p.add_argument("--epochs", type=int, default=2, help="engine part: epochs per run")
    p.add_argument("--steps", type=int, default=50, help="forms part: steps per run")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--out", help="also write the table to this file")
    args = p.parse_args()
    lines = [f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
             f"jax {jax.__version__}", "",
             "| what | seeds | per run | vmapped chunk (ms/run) | single runs (ms/run) | "
             "ratio |", "|---|---:|---|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for row in engine_rows(args.seeds, args.epochs, args.repeat) + \
            form_rows(args.seeds, args.steps, args.repeat):
        print(row, flush=True)
        lines.append(row)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
