"""A user's own training function, in the make_train(config) -> train(keys, hparams)
shape jaxstab runs (DESIGN.md, "User tasks"): a small MLP on a two-moons-like problem
drawn from the `data` key, trained with optax, written for one seed."""

import jax
import jax.numpy as jnp
import optax


def _data(key, n):
    kx, kn = jax.random.split(key)
    t = jax.random.uniform(kx, (n,), minval=0.0, maxval=jnp.pi)
    y = (jnp.arange(n) % 2).astype(jnp.float32)
    x = jnp.stack([jnp.cos(t) + y, jnp.sin(t) * (1 - 2 * y) + 0.5 * y], axis=1)
    return x + 0.15 * jax.random.normal(kn, (n, 2)), y


def make_train(config):
    width, epochs, n = config["width"], config["epochs"], config.get("n", 128)
    batch = config.get("batch", 32)
    steps = n // batch

    def init(key):
        k1, k2 = jax.random.split(key)
        return {"w1": jax.random.normal(k1, (2, width)) / jnp.sqrt(2.0),
                "b1": jnp.zeros(width),
                "w2": jax.random.normal(k2, (width,)) / jnp.sqrt(width), "b2": 0.0}

    def logits(p, x):
        return jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]

    def loss_fn(p, x, y):
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logits(p, x), y))

    def train(keys, hparams):
        x, y = _data(keys["data"], n)
        xt, yt = _data(jax.random.fold_in(keys["data"], 1), n)
        params = init(keys["init"])
        tx = optax.inject_hyperparams(optax.sgd)(learning_rate=hparams["learning_rate"])
        state = tx.init(params)

        def epoch(carry, e):
            params, state = carry
            perm = jax.random.permutation(jax.random.fold_in(keys["order"], e), n)

            def step(carry, idx):
                params, state = carry
                loss, g = jax.value_and_grad(loss_fn)(params, x[idx], y[idx])
                upd, state = tx.update(g, state, params)
                return (optax.apply_updates(params, upd), state), loss

            (params, state), losses = jax.lax.scan(
                step, (params, state), perm[: steps * batch].reshape(steps, batch))
            return (params, state), jnp.mean(losses)

        (params, _), loss_curve = jax.lax.scan(epoch, (params, state), jnp.arange(epochs))
        acc = jnp.mean((logits(params, xt) > 0) == (yt > 0.5))
        return {"test_accuracy": acc, "train_loss": loss_curve[-1], "loss": loss_curve}

    return train


def make_train_not_a_dict(config):
    def train(keys, hparams):
        return jnp.zeros(3)
    return train


def make_train_matrix(config):
    def train(keys, hparams):
        return {"test_accuracy": jnp.zeros((2, 2))}
    return train


def make_train_side_effect(config):
    def train(keys, hparams):
        if hparams["learning_rate"] > 0.1:  # Python control flow on a traced value
            return {"test_accuracy": jnp.array(1.0)}
        return {"test_accuracy": jnp.array(0.0)}
    return train


def make_train_diverges(config):
    def train(keys, hparams):
        x = jax.random.normal(keys["init"], ())
        loss = jnp.array([1.0, 2.0, jnp.where(x > 0, jnp.inf, 3.0)])
        return {"test_accuracy": jnp.where(x > 0, jnp.nan, 0.5), "loss": loss}
    return train


not_callable = 3
