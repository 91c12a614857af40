"""Datasets: per-seed draws of the article's synthetic data, scikit-learn's bundled sets,
``make_classification``, MNIST-1D, a long-range sequence task and a user's own CSV / NPZ
file (see ``_registry``; the ``[data]`` section's rules are in ``_config``).

A dataset returns one run's data as a dict of arrays: ``x_train, y_train, m_train`` and,
when it has a test split, ``x_test, y_test, m_test``. ``y`` holds class indices as
floats. ``m_*`` are 0/1 masks: host-side transforms (imbalanced-learn resampling) change
the number of examples per seed, so arrays are padded to a fixed size and the mask says
which rows are real.
"""

from jaxstab.builtin.data._config import CONTINUOUS as CONTINUOUS
from jaxstab.builtin.data._config import RESAMPLERS as RESAMPLERS
from jaxstab.builtin.data._config import DataConfig as DataConfig
from jaxstab.builtin.data._host import HOST_RESAMPLERS as HOST_RESAMPLERS
from jaxstab.builtin.data._real import signal_step as signal_step
from jaxstab.builtin.data._registry import DATASETS as DATASETS
from jaxstab.builtin.data._registry import FIXED_DATASETS as FIXED_DATASETS
from jaxstab.builtin.data._registry import Dataset as Dataset
from jaxstab.builtin.data._registry import get_dataset as get_dataset
from jaxstab.builtin.data._registry import registered as registered
