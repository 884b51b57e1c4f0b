"""Every error and warning skkd raises on purpose, one type per kind of breach.

All errors subclass the built-in type a user would already catch (``ValueError``,
``RuntimeError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from sklearn.utils._param_validation import InvalidParameterError as _SklearnInvalidParameter


class InvalidParameterError(_SklearnInvalidParameter):
    """An estimator parameter has a value outside what it accepts.

    The message names the parameter and what is allowed. A subclass of
    scikit-learn's own ``InvalidParameterError`` (so also of ``ValueError``
    and ``TypeError``).
    """


class PluginError(RuntimeError):
    """A plugin broke the skkd plugin contract (the message names it)."""


class PluginWarning(RuntimeWarning):
    """A broken plugin was skipped; the others keep working (the message names it)."""


class TeacherError(ValueError):
    """The teacher broke the teacher contract.

    Its outputs have the wrong shape or type, contain NaN or infinity, its
    classes differ from ``y``'s, or it failed on the input it was given.
    """


class StudentError(ValueError):
    """The student module's output does not fit the task (one logit per class)."""


class LossError(ValueError):
    """A KD loss broke the loss contract (it must return a scalar tensor)."""


class TeacherNearChanceWarning(UserWarning):
    """The teacher's accuracy on the training data is close to chance level."""
