"""Teachers: a fitted model of any kind, as the outputs a student learns from.

An *adapter* turns a model (a torch module, a skorch net, a scikit-learn
classifier, or anything a plugin's adapter accepts) into a :class:`Teacher`
that answers the model's raw outputs, one column per output: class scores
for a classifier, predictions in ``y``'s units for a regressor.
:func:`as_teacher` asks the registered adapters in turn; the classifier asks
them about every teacher, the regressor about a teacher that neither
``predict`` nor a torch module serves (:func:`predictions`).
:func:`teacher_outputs` is the classifier's teacher step (fit what is
unfitted, query, align the columns to ``classes_``, combine, check, score);
:func:`regression_outputs` the regressor's. :class:`EnsembleTeacher`
combines several teachers.

The built-in adapters register here through
:func:`skkd.hookspecs.skkd_register_teachers`, as a plugin's would.
"""

from __future__ import annotations

from skkd.hookspecs import hookimpl
from skkd.teachers._adapters import (
    PROBA_FLOOR,
    SklearnTeacher,
    Teacher,
    TorchTeacher,
    adapt_sklearn,
    adapt_skorch,
    adapt_torch,
    eval_mode,
)
from skkd.teachers._aligned import AlignedTeacher
from skkd.teachers._classification import teacher_logits, teacher_outputs, warn_if_near_chance
from skkd.teachers._ensembles import EnsembleTeacher
from skkd.teachers._folds import is_unfitted_estimator, share_or_clone
from skkd.teachers._lookup import as_teacher
from skkd.teachers._outputs import TeacherOutputs, as_float32, check_teacher_logits
from skkd.teachers._regression import (
    check_predictions,
    predictions,
    r2,
    refuse_classifier,
    regression_outputs,
    teacher_predictions,
    warn_if_near_mean,
)

__all__ = [
    "PROBA_FLOOR", "AlignedTeacher", "EnsembleTeacher", "SklearnTeacher", "Teacher",
    "TeacherOutputs", "TorchTeacher", "adapt_sklearn", "adapt_skorch", "adapt_torch",
    "as_float32", "as_teacher", "check_predictions", "check_teacher_logits", "eval_mode",
    "is_unfitted_estimator", "predictions", "r2", "refuse_classifier", "regression_outputs",
    "share_or_clone", "teacher_logits", "teacher_outputs", "teacher_predictions",
    "warn_if_near_chance", "warn_if_near_mean",
]


@hookimpl
def skkd_register_teachers(register):
    register("skorch", adapt_skorch)
    register("torch", adapt_torch)
    register("sklearn", adapt_sklearn)
