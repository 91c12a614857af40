"""What the store holds about the runs besides their statistics: learning-curve bands,
the environment they ran in, and every value as CSV."""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass

import numpy as np

from jaxstab._check import csv_text
from jaxstab.env import budget
from jaxstab.store import StudyResults

_ENV_ORDER = ("jaxstab", "jax", "jaxlib", "flax", "optax", "numpy", "python", "backend",
              "device", "device_count", "process_count", "platform", "machine", "commit",
              "matmul_precision", "enable_x64", "xla_flags")
# Per-run arrays stored with the curves that are not learning curves: which test
# examples a run got right (for stats.noise_baselines), one column per example.
_NOT_CURVES = {"test_correct"}


@dataclass(frozen=True)
class Curve:
    """One learning curve over seeds at ``epochs`` (1-based): median and quartiles; the
    mean and its pointwise t interval (``level``) over the seeds whose run is finite
    there. Every epoch, or evenly spaced ones (the first and last included) when the
    curve is longer than a figure can show (``JAXSTAB_MAX_CURVE_POINTS_DRAWN``; the
    store keeps every point). With ``smoothing`` > 0 every run's curve is first
    smoothed (``ema``, over all its points)."""

    name: str
    median: tuple[float, ...]
    q25: tuple[float, ...]
    q75: tuple[float, ...]
    mean: tuple[float, ...] = ()
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    level: float = 0.95
    smoothing: float = 0.0
    epochs: tuple[int, ...] = ()


def ema(c: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average along the last axis, debiased as TensorBoard's
    smoothing slider is (s_t = w s_(t-1) + (1 - w) x_t, divided by 1 - w^(t+1)), so
    the first epochs are not pulled to zero; scipy.signal.lfilter runs it for every
    seed at once. A NaN (a diverged run) stays NaN from there on."""
    if weight <= 0:
        return c
    from scipy.signal import lfilter

    out = lfilter([1.0 - weight], [1.0, -weight], c, axis=-1)
    return out / (1.0 - weight ** np.arange(1, c.shape[-1] + 1))


def curves(s, smoothing: float = 0.0, level: float = 0.95) -> tuple[Curve, ...]:
    from scipy import stats as st

    out = []
    most = budget("CURVE_POINTS_DRAWN")
    for name in sorted(s.curves, key=lambda n: (n != "loss", n)):
        if name in _NOT_CURVES:
            continue
        c = np.asarray(s.curves[name], float)
        if c.ndim != 2 or c.shape[0] == 0:
            continue
        c = ema(c, smoothing)
        # A million-point curve drawn whole made a 67 MB page (and its quantiles took
        # minutes): a figure is a few hundred pixels wide.
        at = np.unique(np.linspace(0, c.shape[1] - 1, min(most, c.shape[1])).round()
                       .astype(np.int64))
        c = c[:, at]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # an epoch where every run diverged: NaN
            q25, med, q75 = np.nanquantile(c, [0.25, 0.5, 0.75], axis=0)
            # pointwise t interval of the mean over the seeds finite at each epoch
            n = np.sum(np.isfinite(c), axis=0)
            mean = np.nanmean(c, axis=0)
            half = st.t.ppf(0.5 + level / 2, n - 1) * np.nanstd(c, axis=0, ddof=1) / np.sqrt(n)
        out.append(Curve(name, *(tuple(float(v) for v in q)
                                 for q in (med, q25, q75, mean, mean - half, mean + half)),
                         level=level, smoothing=float(smoothing),
                         epochs=tuple(int(e) + 1 for e in at)))
    return tuple(out)


def environment(results: StudyResults) -> tuple[tuple[str, str], ...]:
    seen: dict[str, list[str]] = {}
    for chunk in results.chunks:
        for k, v in (chunk.get("env") or {}).items():
            text = "unknown" if v is None else "(none)" if v == "" else str(v)
            if text not in seen.setdefault(k, []):
                seen[k].append(text)
    keys = [k for k in _ENV_ORDER if k in seen] + sorted(k for k in seen if k not in _ENV_ORDER)
    return tuple((k, "; ".join(seen[k])) for k in keys)


def _cells(*cells) -> str:
    """One CSV line of ``cells`` as csv.writer writes it (quoted where needed)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def runs_csv(results: StudyResults) -> str:
    """Every run's final values, in ``jaxstab export``'s columns (one row per run and
    metric; ``value`` empty where the run diverged). The text cells are the same on
    every row of a setting, so they are quoted once; a row is then joined from plain
    numbers (csv.writer row by row took 6 s of the report at 2 x 300,000 runs)."""
    name, fp = results.study.name, results.fingerprint
    lines = [_cells("study", "fingerprint", "setting", "seed", "metric", "value",
                    "diverged", "diverged_step")]
    for s in results.settings:
        head = _cells(csv_text(name), fp, s.key, 0)[:-len("0\n")]  # up to the seed
        steps = np.asarray(getattr(s, "diverged_step", np.full(len(s.seeds), -1)))
        step = ["" if k < 0 else str(k) for k in steps.tolist()]
        seeds = [str(int(k)) for k in np.asarray(s.seeds).tolist()]
        div = ["1" if d else "0" for d in np.asarray(s.diverged, bool).tolist()]
        names, columns = [], []
        for m, v in sorted(s.metrics.items()):
            names.append(_cells(csv_text(m)).rstrip("\n"))
            v = np.asarray(v, float)
            texts = list(map(repr, v.tolist()))
            for i in np.flatnonzero(~np.isfinite(v)).tolist():
                texts[i] = ""
            columns.append(texts)
        lines += [f"{head}{seed},{m},{x},{d},{k}\n"
                  for seed, d, k, *xs in zip(seeds, div, step, *columns)
                  for m, x in zip(names, xs)]
    return "".join(lines)
