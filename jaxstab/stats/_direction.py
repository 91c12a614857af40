"""Which way a metric is better, guessed from its name when nobody declared it."""

from __future__ import annotations

import re

from jaxstab.errors import UserError

# Matched anywhere in the lower-cased name ("crossentropyloss", "val_error_rate").
# "gap", "rises" and "dead" are jaxstab's own lower-is-better metric words.
LOWER_IS_BETTER = ("loss", "error", "perplexity", "regret", "nll", "gap", "rises", "dead")
# Matched only as a whole token of the name: as substrings they would catch other words
# ("mae" in "maes", "time" in "lifetime_reward", "steps" in "stepsize").
LOWER_TOKENS = frozenset({"mse", "mae", "rmse", "time", "steps", "seconds", "latency",
                          "err"})


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def guess_direction(metric_name: str) -> bool:
    """``higher_is_better`` guessed from a metric's name: False for losses and errors
    (``val_loss``, ``test_mse``, ``nll``, ``perplexity``, ``regret``,
    ``time_to_target``, ``steps_to_target``, ``testMSE``), True otherwise.

    A guess, for when no direction is declared; callers should say it was guessed.
    Words in LOWER_IS_BETTER match anywhere in the name; LOWER_TOKENS only as a whole
    token (split at non-alphanumerics and camelCase).
    """
    if not isinstance(metric_name, str) or not metric_name:
        raise UserError(f"metric: need a non-empty metric name, got {metric_name!r}")
    low = metric_name.lower()
    if any(word in low for word in LOWER_IS_BETTER):
        return False
    return not any(t in LOWER_TOKENS for t in _tokens(metric_name))
