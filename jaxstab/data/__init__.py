"""Datasets: per-seed draws of the article's synthetic data (and more, by registry).

A dataset returns one run's data as a dict of arrays: ``x_train, y_train, m_train`` and,
when it has a test split, ``x_test, y_test, m_test``. ``m_*`` are 0/1 masks: host-side
transforms (imbalanced-learn resampling) change the number of examples per seed, so
arrays are padded to a fixed size and the mask says which rows are real.
"""

from jaxstab.data._registry import Dataset as Dataset
from jaxstab.data._registry import get_dataset as get_dataset
