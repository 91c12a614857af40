class UserError(Exception):
    """A problem with the user's input; the CLI prints it as one line and exits 2."""


class TaskError(UserError):
    """A user's task failed while training (its own exception, or a callback's): the
    user's error, after the chunks before it were saved; the CLI adds the resume line."""
