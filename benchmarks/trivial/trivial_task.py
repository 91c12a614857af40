"""A task that trains nothing (issue 26): each run's metric is one normal draw from its
seed's key, so ``jaxstab run`` of it measures jaxstab's own cost per run (keys, chunks,
records, store writes, the end-of-run summary), not training.

    jaxstab run benchmarks/trivial/trivial.toml --seeds 150000 --store T.sqlite

prints a ``runs/s`` line; docs/performance.md has the numbers."""

import jax


def make_train(config):
    shift = float(config["shift"])

    def train(keys, hparams):
        return {"loss": jax.random.normal(keys["init"]) + shift * hparams["level"]}

    return train
