"""A synthetic user task for the time-to-target tests: an "accuracy" curve that rises
as 1 - exp(-rate * step) with a per-run rate around the float factor ``speed``, so two
speeds end at the same accuracy and reach a target at different steps; a loss curve
beside it. ``blowup`` (a float factor) above 0 makes that share of runs diverge (NaN
from its step 5 on), as the engine stores a diverged run."""

import jax
import jax.numpy as jnp


def make_train(config):
    steps = int(config.get("steps", 30))

    def train(keys, hparams):
        k1, k2, k3 = jax.random.split(keys["init"], 3)
        rate = hparams.get("speed", 0.3) * jnp.exp(0.3 * jax.random.normal(k1))
        t = jnp.arange(1, steps + 1, dtype=jnp.float32)
        acc = 1.0 - jnp.exp(-rate * t) + 0.005 * jax.random.normal(k2, (steps,))
        blow = jax.random.uniform(k3) < hparams.get("blowup", 0.0)
        acc = jnp.where(blow & (t >= 5), jnp.nan, acc)
        loss = -jnp.log(jnp.clip(acc, 1e-3, 1.0))
        return {"final": acc[-1], "accuracy": acc, "loss": loss}

    return train
