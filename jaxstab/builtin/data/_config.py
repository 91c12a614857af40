"""The ``[data]`` section: which dataset, its size, split, resampling and label noise.
Its rules live here, next to the datasets they describe (``_registry``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from jaxstab._check import check_choice, check_range, fail, is_trusted
from jaxstab.builtin.data._host import HOST_RESAMPLERS
from jaxstab.builtin.data._registry import DATASETS, FIXED_DATASETS

RESAMPLERS = ("none", "random_over", "smote", "random_under", "class_weight")
# Continuous fields: traced hyperparameters, vmapped with the seeds.
CONTINUOUS = ("label_noise", "imbalance", "lag")


@dataclass(frozen=True)
class DataConfig:
    name: str = "article_uniform"
    n_samples: int = 1000
    n_features: int = 10
    test_size: float = 0.0
    # A fixed scikit-learn ``random_state`` for the split / the resampler, used while the
    # `split` / `resample` source is not varied: the article's script fixes both at 42.
    split_random_state: int | None = None
    resample: str = "none"
    resample_random_state: int | None = None
    label_noise: float = 0.0
    # Fields added after the article's three examples default to None ("not set") so
    # that those studies' configurations, and the TOML files written for them, keep
    # their exact form; the properties below give the effective values.
    # Majority : minority class ratio of `classification` (1 = balanced), e.g. 19 = 1:19.
    imbalance: float | None = None
    # make_classification's n_informative (default 2) and class_sep (default 1.0).
    n_informative: int | None = None
    class_sep: float | None = None
    # `long_range`: how many steps before the end the label's evidence sits (default: at
    # the first step). Continuous, so all lags share one compiled program.
    lag: int | None = None
    # A user's own CSV / NPZ file (name `file`); `target` names its label column / array.
    # The loader makes the path absolute (relative to the study's TOML file); `digest`
    # (the file contents' hash) is set here and identifies the data in the fingerprint.
    path: str | None = None
    target: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        if self.path is not None and not is_trusted():
            self._load_file()
        check_choice("data.name", self.name, DATASETS)
        if self.name == "file" and self.path is None:
            fail("data.name", "`file` reads `path`; give [data] path = \"file.csv\"")
        check_range("data.n_samples", self.n_samples, 4, 10_000_000)
        check_range("data.n_features", self.n_features, 1, 100_000)
        check_range("data.test_size", self.test_size, 0.0, 1.0, hi_open=True)
        check_choice("data.resample", self.resample, RESAMPLERS)
        check_range("data.label_noise", self.label_noise, 0.0, 0.5)
        for name in ("split_random_state", "resample_random_state"):
            v = getattr(self, name)
            if v is not None:
                check_range(f"data.{name}", v, 0, 2**32 - 1)
        if self.imbalance is not None:
            check_range("data.imbalance", self.imbalance, 1.0, 1000.0)
            if self.name != "classification" and self.imbalance != 1.0:
                fail("data.imbalance", f"only the `classification` dataset draws "
                     f"imbalanced classes, not {self.name!r}")
        if self.n_informative is not None:
            check_range("data.n_informative", self.n_informative, 1, self.n_features)
        if self.lag is not None:
            if self.name != "long_range":
                fail("data.lag", f"only `long_range` has a lag, not {self.name!r}")
            check_range("data.lag", self.lag, 1, self.n_features)
        if self.class_sep is not None:
            check_range("data.class_sep", self.class_sep, 0.0, 100.0)
        rows = None if is_trusted() else self.rows
        if rows is not None and self.n_samples > rows:
            fail("data.n_samples", f"{self.n_samples} is more than the {rows} examples "
                 f"of {self.path or self.name}")
        if self.name == "article_ex1" and self.test_size <= 0:
            fail("data.test_size", "article_ex1 needs a test split, allowed (0, 1)")
        n_test = math.ceil(self.test_size * self.n_samples)
        if self.test_size > 0 and not 1 <= n_test <= self.n_samples - 2:
            fail("data.test_size", f"{self.test_size} leaves no train or test examples "
                 f"of {self.n_samples}")
        if self.resample in HOST_RESAMPLERS and self.name in ("article_uniform",
                                                              "long_range"):
            fail("data.resample", f"{self.resample} (imbalanced-learn) needs a dataset "
                 f"drawn on the host, not {self.name}")

    def _load_file(self) -> None:
        from jaxstab.builtin.data._file import default_target, load_file

        if self.name not in ("file", "article_uniform"):  # the latter: the default
            fail("data.path", f"a file is its own dataset; drop name = {self.name!r}")
        if Path(self.path).suffix not in (".csv", ".npz"):
            fail("data.path", f"{self.path}: expected a .csv or .npz file")
        target = self.target or default_target(self.path)
        x, y, digest = load_file(self.path, target)
        # A file brings its own size: the default n_samples (1000) means every row.
        n = len(y) if self.n_samples == 1000 else self.n_samples
        for k, v in dict(name="file", target=target, digest=digest, n_samples=n,
                         n_features=x.shape[1]).items():
            object.__setattr__(self, k, v)

    def _file(self):
        from jaxstab.builtin.data._file import load_file

        return load_file(self.path, self.target)

    @property
    def rows(self) -> int | None:
        """Examples a fixed dataset (or file) holds; None for data drawn at any size."""
        if self.name == "file":
            return len(self._file()[1])
        return FIXED_DATASETS[self.name][0] if self.name in FIXED_DATASETS else None

    @property
    def n_classes(self) -> int:
        if self.name == "file":
            return int(self._file()[1].max()) + 1
        return FIXED_DATASETS[self.name][2] if self.name in FIXED_DATASETS else 2

    @property
    def n_test(self) -> int:
        # scikit-learn's train_test_split rounds the test share up.
        return math.ceil(self.test_size * self.n_samples) if self.test_size > 0 else 0

    @property
    def n_train(self) -> int:
        return self.n_samples - self.n_test

    @property
    def n_inputs(self) -> int:
        """Features per example as the model sees them (fixed datasets bring their own)."""
        if self.name == "file":
            return self._file()[0].shape[1]
        return FIXED_DATASETS[self.name][1] if self.name in FIXED_DATASETS else self.n_features

    @property
    def host(self) -> bool:
        """Whether runs draw this data on the host (NumPy, one run at a time)."""
        return (self.name in ("article_ex1", "classification")
                or self.resample in HOST_RESAMPLERS)

    def identity(self) -> dict:
        """What decides the numbers: a file by its contents, not where it lies."""
        import dataclasses

        d = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if self.name == "file":
            d.pop("path", None)
        return d
