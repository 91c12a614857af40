"""The end-of-run summary: per setting, the main metric's mean and 95% interval."""

from __future__ import annotations

import numpy as np

from jaxstab.store import StudyResults


def summary_lines(results: StudyResults, seeds: int) -> list[str]:
    from jaxstab.stats import interval

    metric = results.study.main_metric
    width = max([7] + [len(s.key) for s in results.settings])
    lines = [f"{'setting':{width}s} {'n':>5s} {'div':>4s}  {metric} mean [95% interval]"]
    for s in results.settings:
        keep = s.seeds < seeds
        x = s.metrics.get(metric, np.full(len(s.seeds), np.nan))[keep]
        div = int(s.diverged[keep].sum())
        finite = x[np.isfinite(x)]
        if len(finite) >= 2:
            iv = interval(finite, level=0.95)
            text = f"{iv.point:.4f} [{iv.low:.4f}, {iv.high:.4f}] ({iv.method})"
        elif len(finite) == 1:
            text = f"{finite[0]:.4f} (one run: no interval)"
        else:
            text = "no finite value"
        lines.append(f"{s.key:{width}s} {int(keep.sum()):5d} {div:4d}  {text}")
    return lines
