"""A user's own Flax module for jaxstab's built-in classification task (docs/guide.md).

The contract: jaxstab builds it as ``Module(n_out=..., **args)`` (``args`` from the
study's ``[model]`` table) and calls ``module.apply(params, x, train=True,
rngs={"dropout": key})`` in training and ``train=False`` in evaluation; ``x`` is a batch
of feature rows ``(batch, n_features)``, the output the logits ``(batch, n_out)``.
"""

import flax.linen as nn


class ResidualMLP(nn.Module):
    n_out: int
    width: int = 32
    depth: int = 2
    dropout: float = 0.1

    @nn.compact
    def __call__(self, x, *, train: bool):
        h = nn.Dense(self.width)(x)
        for _ in range(self.depth):
            r = nn.gelu(nn.Dense(self.width)(nn.LayerNorm()(h)))
            h = h + nn.Dropout(self.dropout, deterministic=not train)(r)
        return nn.Dense(self.n_out)(nn.LayerNorm()(h))
