"""A user's own training function, in the shape jaxstab runs (docs/guide.md):
``make_train(config) -> train(keys, hparams) -> {name: 0-d metric or 1-d curve}``.

A small MLP fits a noisy sine from a handful of points, full batch, with Adam. The
dropout rate is a float factor, so it arrives traced in ``hparams`` and all its values
share one compile; the width is a static factor (it fixes array shapes) and arrives in
``config``. Written for one seed: jaxstab adds the seed axis.
"""

import jax
import jax.numpy as jnp
import optax


def _sine(key, n):
    kx, kn = jax.random.split(key)
    x = jax.random.uniform(kx, (n, 1), minval=-1.0, maxval=1.0)
    return x, jnp.sin(3.0 * x[:, 0]) + 0.3 * jax.random.normal(kn, (n,))


def make_train(config):
    width, steps, n_train = config["width"], config["steps"], config["n_train"]
    learning_rate = config["learning_rate"]

    def init(key):
        k1, k2 = jax.random.split(key)
        return {"w1": jax.random.normal(k1, (1, width)), "b1": jnp.zeros(width),
                "w2": jax.random.normal(k2, (width,)) / jnp.sqrt(width), "b2": 0.0}

    def predict(p, x, keep=None):
        h = jnp.tanh(x @ p["w1"] + p["b1"])
        if keep is not None:  # inverted dropout; the rate is a traced array
            h = h * keep
        return h @ p["w2"] + p["b2"]

    def train(keys, hparams):
        rate = hparams["dropout"]
        x, y = _sine(keys["data"], n_train)
        x_test, y_test = _sine(jax.random.fold_in(keys["data"], 1), 512)
        tx = optax.adam(learning_rate)
        params = init(keys["init"])

        def loss_fn(p, key):
            keep = jax.random.bernoulli(key, 1.0 - rate, (n_train, width)) / (1.0 - rate)
            return jnp.mean((predict(p, x, keep) - y) ** 2)

        def step(carry, i):
            p, state = carry
            loss, g = jax.value_and_grad(loss_fn)(p, jax.random.fold_in(keys["dropout"], i))
            upd, state = tx.update(g, state, p)
            return (optax.apply_updates(p, upd), state), loss

        (params, _), losses = jax.lax.scan(step, (params, tx.init(params)),
                                           jnp.arange(steps))
        return {"test_mse": jnp.mean((predict(params, x_test) - y_test) ** 2),
                "train_mse": jnp.mean((predict(params, x) - y) ** 2),
                "loss": losses.reshape(-1, 10).mean(axis=1)}  # a curve: 1-d

    return train
