"""Datasets: per-seed draws of the article's synthetic data, scikit-learn's bundled sets,
``make_classification``, MNIST-1D and a long-range sequence task (see ``_registry``).

A dataset returns one run's data as a dict of arrays: ``x_train, y_train, m_train`` and,
when it has a test split, ``x_test, y_test, m_test``. ``y`` holds class indices as
floats. ``m_*`` are 0/1 masks: host-side transforms (imbalanced-learn resampling) change
the number of examples per seed, so arrays are padded to a fixed size and the mask says
which rows are real.
"""

from jaxstab.data._registry import Dataset as Dataset
from jaxstab.data._registry import get_dataset as get_dataset
from jaxstab.data._registry import registered as registered
