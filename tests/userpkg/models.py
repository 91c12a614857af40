"""A user's own Flax module for the built-in task: built as ``Module(n_out=..., **args)``
and called as ``apply(params, x, train=...)`` with Flax's `dropout` rng in training."""

import flax.linen as nn


class ResMLP(nn.Module):
    n_out: int
    width: int = 16
    depth: int = 2
    dropout: float = 0.1

    @nn.compact
    def __call__(self, x, *, train: bool):
        h = nn.Dense(self.width)(x)
        for _ in range(self.depth):
            r = nn.LayerNorm()(h)
            r = nn.gelu(nn.Dense(self.width)(r))
            r = nn.Dropout(self.dropout, deterministic=not train)(r)
            h = h + r
        return nn.Dense(self.n_out)(nn.LayerNorm()(h))


class NotAModule:
    pass
