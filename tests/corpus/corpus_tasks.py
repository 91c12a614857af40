"""User tasks of the invalid-input corpus (the TOML's own folder is importable)."""

import sys

import jax.numpy as jnp


def curve_of_n(config):
    """One metric and a curve of ``config["n"]`` points (traced only: never trained)."""
    n = config["n"]

    def train(keys, hparams):
        return {"acc": jnp.float32(0.5), "loss": jnp.linspace(1.0, 0.0, n)}

    return train


def exits(config):
    sys.exit(3)
