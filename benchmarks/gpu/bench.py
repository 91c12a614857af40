"""Throughput table: runs/s and device memory of seed sweeps at 1 ... 131,072 seeds, for
the article's Example 2 and MNIST-1D's MLP and CNN through jaxstab, beside a
hand-written ``jit(vmap)`` of the same training (for MNIST-1D: the same networks, Adam,
batch 100, on fixed inputs, ``benchmarks/cnn_cpu.py``) and (when PyTorch is installed) a
PyTorch eager loop of Example 2, all in one process.

    python benchmarks/gpu/bench.py [--workloads example2 mnist1d_mlp mnist1d_cnn]
        [--seeds 1 64 1024 ...] [--mnist1d-epochs 150] [--out table.md] [--budget 420]

Runs on whatever JAX's default backend is (GPU, or CPU for a dry run). ``--budget`` stops
adding rows after that many seconds so the script fits a lease. Compile is excluded from
runs/s (the first call is timed separately).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import cnn_cpu  # noqa: E402
import compare_handwritten as hw  # noqa: E402

from jaxstab import sweep as S  # noqa: E402
from jaxstab.loader import load_study, study_from_dict  # noqa: E402


WORKLOADS = ("example2", "mnist1d_mlp", "mnist1d_cnn")


def example2(lr: float = 0.1):
    d = load_study("article/example2").to_dict()
    d["factors"] = {"learning_rate": [lr]}
    d["claims"] = []
    return study_from_dict(d)


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def jaxstab_engine(study, n: int) -> dict:
    """The engine alone: chunked, vmapped programs and the copy back to the host."""
    settings = study.settings() * 1
    group = [(settings[0], k) for k in range(n)]
    size = S.auto_chunk([settings[0]], study.seed, n)
    n_chunks, size = S.chunk_bounds(n, size, len(jax.local_devices()))

    def go():
        for c in range(n_chunks):
            part = group[c * size:(c + 1) * size]
            part = part + [part[-1]] * (size - len(part))
            S.execute([s for s, _ in part], [k for _, k in part], study_seed=study.seed)

    first = _timed(go)
    later = _timed(go)
    mem = S.bytes_per_run([settings[0]], study.seed) * size
    return {"first": first, "later": later, "chunk": size, "chunk_bytes": mem}


def jaxstab_sweep(study, n: int) -> float:
    """End to end without the store: the engine plus building per-run records."""
    return _timed(lambda: S.sweep(study, seeds=n))


def _mnist1d_handwritten(conv: str, steps: int):
    def make(n: int):
        fn = jax.jit(jax.vmap(cnn_cpu.hand_written(cnn_cpu.Net(conv), steps)))
        keys = jax.random.split(jax.random.PRNGKey(1), n)
        return lambda: fn(keys).block_until_ready()
    return make


def handwritten(n: int, make=None) -> dict:
    try:
        fn = (make or hw._handwritten)(n)
        first = _timed(fn)
        return {"first": first, "later": _timed(fn)}
    except Exception as e:  # noqa: BLE001 - an out-of-memory row is a result
        return {"error": type(e).__name__ + ": " + str(e).splitlines()[0][:80]}


def torch_eager(n: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    t0 = time.perf_counter()
    for seed in range(n):
        g = torch.Generator(device="cpu").manual_seed(seed)
        x = torch.rand(1000, 10, generator=g).to(dev)
        y = torch.randint(0, 2, (1000,), generator=g).float().to(dev)
        model = torch.nn.Sequential(torch.nn.Linear(10, 128), torch.nn.ReLU(),
                                    torch.nn.Linear(128, 1)).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=0.1, eps=1e-7)
        for _ in range(10):
            perm = torch.randperm(1000, generator=g).to(dev)
            for i in range(0, 1000, 32):
                idx = perm[i:i + 32]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    model(x[idx])[:, 0], y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    if dev == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+",
                    default=[1, 64, 1024, 8192, 32768, 131072])
    ap.add_argument("--out", default=None)
    ap.add_argument("--budget", type=float, default=420.0)
    ap.add_argument("--torch-seeds", type=int, default=2)
    ap.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    ap.add_argument("--mnist1d-epochs", type=int, default=150,
                    help="epochs of 4000 examples (150 = the paper's 6000 steps)")
    args = ap.parse_args()
    start = time.perf_counter()
    dev = jax.devices()[0]
    lines = [f"device: {getattr(dev, 'device_kind', dev)} ({jax.default_backend()}), "
             f"{jax.device_count()} device(s); jax {jax.__version__}; "
             f"date {time.strftime('%Y-%m-%d')}", ""]
    lines += ["| workload | seeds | chunk | jaxstab engine runs/s | jaxstab first call (s) | "
              "sweep+records runs/s | hand-written jit(vmap) runs/s | hand-written first (s) "
              "| ratio engine/hand | chunk device memory (MiB) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def flush():
        text = "\n".join(lines)
        print(text, flush=True)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text + "\n")

    steps = args.mnist1d_epochs * 40  # 4000 training examples, batch 100
    work = [(w, n) for w in args.workloads for n in args.seeds]
    for name, n in work:
        if time.perf_counter() - start > args.budget:
            lines.append(f"| {name} | {n} | stopped: time budget of {args.budget:.0f} s "
                         f"spent |")
            break
        if name == "example2":
            study, make = example2(), None
        else:
            model = name.split("_")[1]
            study = cnn_cpu.mnist1d_study(args.mnist1d_epochs, model)
            make = _mnist1d_handwritten("flax.linen.Conv" if model == "cnn" else "mlp",
                                        steps)
        e = jaxstab_engine(study, n)
        sw = jaxstab_sweep(study, n)
        h = handwritten(n, make)
        if "error" in h:
            hcol, hfirst, ratio = h["error"], "-", "-"
        else:
            hcol, hfirst = f"{n / h['later']:,.0f}", f"{h['first']:.2f}"
            ratio = f"{(n / e['later']) / (n / h['later']):.2f}"
        lines.append(f"| {name} | {n} | {e['chunk']} | {n / e['later']:,.0f} | {e['first']:.2f} | "
                     f"{n / sw:,.0f} | {hcol} | {hfirst} | {ratio} | "
                     f"{e['chunk_bytes'] / 2**20:,.0f} |")
        flush()
    stats = dev.memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        lines += ["", f"peak device memory over the whole script: "
                      f"{stats['peak_bytes_in_use'] / 2**30:.2f} GiB"]
    rate = torch_eager(args.torch_seeds)
    lines += ["", "PyTorch eager loop (one seed after another): " +
              ("not installed" if rate is None else f"{rate:.2f} runs/s over "
               f"{args.torch_seeds} seeds")]
    flush()


if __name__ == "__main__":
    main()
