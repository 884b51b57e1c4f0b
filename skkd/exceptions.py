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
    """A plugin problem that skkd works around; the message names the plugin.

    A broken plugin (or a teacher adapter that raised) was skipped and the
    others keep working, or ``SKKD_LOAD_PLUGINS`` names a distribution that
    is not installed.
    """


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


class TeacherNearMeanWarning(TeacherNearChanceWarning):
    """A regression teacher's R² on the training data is below 0.

    The teacher predicts ``y`` worse than ``y``'s mean does: it probably
    predicts in other units, or receives other features, than the student is
    given. The regressor's counterpart of
    :class:`TeacherNearChanceWarning` (a subclass, so one filter silences both).
    """


class SampleWeightIgnoredWarning(UserWarning):
    """``sample_weight`` could not be passed to the fit of an unfitted teacher's clone.

    The teacher's ``fit`` takes no ``sample_weight`` (a ``Pipeline`` without
    metadata routing, for one), so its clones are fitted unweighted.
    """


class StudentFileError(ValueError):
    """A file given to :func:`skkd.load_student` is not a valid student file.

    It is not a student file at all, was written by a newer skkd, or one of its
    sections is damaged or holds something the format does not define; the
    message names the file and the entry. Nothing from the file was run or built.
    """
