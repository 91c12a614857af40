"""The built-in classification task: the article's datasets (``data``), Flax models
(``models``, ``model_config``), optax optimizers (``optim``), the training loop
(``train``), its metrics (``metrics``), the rules across them (``config``) and what of a
configuration applies (``applies``). It implements ``jaxstab.task.Task`` (``task``)
exactly as a user's ``make_train`` does (``jaxstab.usertask``); the generic layers reach
it only through ``jaxstab.task``."""
