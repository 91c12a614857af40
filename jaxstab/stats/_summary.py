"""Per-setting summary of one metric over seeds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _base, _check
from jaxstab.stats._base import Record
from jaxstab.stats._intervals import Interval, interval, std_interval
from jaxstab.stats._shape import Shape, shape_of


@dataclass(frozen=True)
class Summary(Record):
    """Statistics of the finished (not diverged) runs of one setting.

    ``n`` counts the runs that enter the statistics; ``n_total`` all runs;
    ``divergence_rate`` is ``n_diverged / n_total``. Intervals are ``None`` when fewer
    than two runs finished. ``shape`` flags collapsed runs (far outliers) and
    non-normal values; the std interval then says so and widens (``std_interval``,
    method "auto").
    """

    n: int
    n_total: int
    n_diverged: int
    divergence_rate: float
    mean: float
    std: float
    median: float
    iqm: float
    min: float
    max: float
    cv: float
    mean_interval: Interval | None
    std_interval: Interval | None
    note: str
    shape: Shape | None = None


def _diverged_mask(diverged: Any, shape: tuple[int, ...]) -> np.ndarray:
    if diverged is None:
        return np.zeros(shape, dtype=bool)
    mask = np.asarray(diverged)
    if mask.shape != shape:
        raise UserError(f"diverged: need the same shape as x {shape}, got {mask.shape}")
    if mask.dtype != bool:
        raise UserError(f"diverged: need a boolean array, got dtype {mask.dtype}")
    return mask


def summarize(x: Any, *, diverged: Any = None, level: float = 0.95, method: str = "auto",
              rng: Any = None, nan_policy: str | None = None,
              n_test: int | None = None) -> Summary:
    """Summarize per-seed values ``x`` (shape ``(n_seeds,)``) of one setting.
    ``n_test``: the test-set size of an accuracy, for the mean's interval when no run
    differs (``interval``).

    Diverged runs (``diverged[i]`` true) never enter the value statistics, whatever
    value was stored for them; they are counted in ``divergence_rate``. A non-finite
    value in a run not flagged as diverged is an error under ``nan_policy="raise"``
    (the default when ``diverged`` is not given) and counts as a divergence under
    ``"omit"`` (the default when it is).
    """
    if nan_policy is None:
        nan_policy = "raise" if diverged is None else "omit"
    _check.choice(nan_policy, "nan_policy", _check.NAN_POLICIES)
    level = _check.level(level)
    values = _check.array(x, "x")
    if values.size < 2:
        raise UserError(f"x: need at least 2 runs, got {values.size}")
    flagged = _diverged_mask(diverged, values.shape)
    unexplained = ~flagged & ~np.isfinite(values)
    if unexplained.any() and nan_policy == "raise":
        raise UserError(f"x: {int(unexplained.sum())} non-finite value(s) in runs not "
                        f"flagged as diverged; pass nan_policy='omit' to count them as "
                        f"diverged")
    out = flagged | unexplained
    kept = values[~out]
    n, n_total, n_div = kept.size, values.size, int(out.sum())
    note = "diverged runs excluded from value statistics" if n_div else ""
    if n < 2:
        nan = float("nan")
        note = f"only {n} finished run(s): no statistics"
        first = float(kept[0]) if n else nan
        return Summary(n, n_total, n_div, n_div / n_total, first, nan, first, first,
                       first, first, nan, None, None, note)
    mean = float(np.mean(kept))
    std = _base.std(kept)
    shape = shape_of(kept)
    note = "; ".join(n for n in [note, shape.note] if n)
    return Summary(
        n=n, n_total=n_total, n_diverged=n_div, divergence_rate=n_div / n_total,
        mean=mean, std=std, median=float(np.median(kept)),
        # IQM, the mean of the middle half, as rliable recommends for few runs.
        iqm=float(st.trim_mean(kept, 0.25)),
        min=float(np.min(kept)), max=float(np.max(kept)),
        cv=std / abs(mean) if mean != 0 else float("nan"),
        mean_interval=interval(kept, level=level, method=method, rng=rng,
                               n_test=n_test),
        std_interval=std_interval(kept, level=level),
        note=note, shape=shape,
    )
