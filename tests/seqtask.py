"""Synthetic user tasks for the sequential-run tests: a "training" that returns a score
drawn from the run's keys at once, so that hundreds of seeds cost milliseconds.

``shift`` (a float factor) moves the mean; ``salt`` (an int factor) changes the draw but
not its distribution; ``tag`` (a str factor) changes nothing at all: two settings that
differ only in ``tag`` train identically.
"""

import jax
import jax.numpy as jnp


def make_train(config):
    salt = int(config.get("salt", 0))
    spread = float(config.get("spread", 1.0))

    def train(keys, hparams):
        key = jax.random.fold_in(keys["init"], salt)
        z = jax.random.normal(key)
        score = hparams.get("shift", 0.0) + spread * z
        return {"score": score, "loss": jnp.stack([score, score])}

    return train
