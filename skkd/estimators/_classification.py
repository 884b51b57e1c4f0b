"""What a classifier adds to ``BaseDistiller``: labels, class weights, logits, hints.

:class:`ClassificationDistiller` is the classification machinery of
:class:`~skkd.DistilledClassifier` (as scikit-learn's ``ForestClassifier`` is
``RandomForestClassifier``'s): the hooks of the fit for labels and class
weights, the teacher's logits, the hints, and prediction. The estimator itself
(:mod:`skkd.estimators._classifier`) holds its parameters and documents them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_X_y, validate_data

from skkd._labels import encode_labels, unlabeled_rows
from skkd._options import check_options
from skkd.augmentations._fit_time import FreshTransferSet
from skkd.estimators._base import BaseDistiller
from skkd.estimators._fit import FitPlan
from skkd.estimators._params import class_weights, named_or_callable
from skkd.exceptions import InvalidParameterError, TeacherError
from skkd.hints._modules import resolve_modules, torch_teacher_module
from skkd.hints._plan import HintPlan
from skkd.plugins import get_hint_loss
from skkd.teachers._adapters import TorchTeacher
from skkd.teachers._classification import score_teacher, teacher_outputs, warn_if_near_chance
from skkd.teachers._outputs import TeacherOutputs, check_teacher_logits


def _row_reduce(values: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
    """``ufunc.reduce(values, axis=1, keepdims=True)``, column by column for many short rows.

    The same maximum; a sum in another order (exact to float64 rounding).
    """
    if values.shape[1] > 64 or values.shape[1] == 0 or len(values) < 256:
        return ufunc.reduce(values, axis=1, keepdims=True)  # fewer calls for a few rows
    out = values[:, :1].copy()
    for j in range(1, values.shape[1]):
        ufunc(out, values[:, j : j + 1], out=out)
    return out


class ClassificationDistiller(ClassifierMixin, BaseDistiller):
    """The classification hooks of ``BaseDistiller``'s fit, and prediction; use
    :class:`~skkd.DistilledClassifier`."""

    # -- labels and class weights -----------------------------------------

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        rows = self._frame_rows(X, reset, fitting=True)
        if rows is None:
            return validate_data(self, X, y, dtype=np.float32, reset=reset)
        return check_X_y(rows, y, dtype=np.float32)

    def _teacher_reads_student_rows(self) -> tuple[str, str] | None:
        if self.hints is not None:
            return "hints", "hints=None"
        if self.teacher_inference == "per_batch":
            return "teacher_inference='per_batch'", "teacher_inference='once'"
        return super()._teacher_reads_student_rows()

    def _encode_targets(self, y: np.ndarray, continuing: bool,
                        sample_weight: np.ndarray | None) -> np.ndarray:
        classes, y_enc = encode_labels(y, self.unlabeled)
        if continuing and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start=True continues the fitted student, trained on classes "
                f"{self.classes_.tolist()}, but y has classes {classes.tolist()}; "
                "set warm_start=False to train a new student."
            )
        labeled = y_enc >= 0
        # checked now, before the teacher step; applied by _student_weights
        self._class_weights = class_weights(
            self.class_weight, classes, "class_weight", y_enc=y_enc[labeled],
            sample_weight=None if sample_weight is None else sample_weight[labeled])
        self.classes_ = classes
        return y_enc

    def _check_sample_weight(self, sample_weight: Any, plan: FitPlan) -> np.ndarray | None:
        if self.class_weight is not None:
            if "criterion__weight" in self._keyword_params:
                raise InvalidParameterError(
                    "class_weight and criterion__weight both weight the classes: pass one. "
                    "class_weight weights whole rows (both terms, as scikit-learn's "
                    "class_weight does); criterion__weight the hard term only."
                )
            try:  # class weights are row weights: sample_weight's limits apply
                super()._check_sample_weight(np.ones(len(plan.X)), plan)
            except InvalidParameterError as exc:
                raise InvalidParameterError(
                    f"class_weight={self.class_weight!r} weights the rows of each class, as "
                    f"sample_weight does. {exc} To weight the hard term's classes only, pass "
                    "criterion__weight={label: weight} instead of class_weight."
                ) from exc
        return super()._check_sample_weight(sample_weight, plan)

    def _student_weights(self, weights: np.ndarray | None,
                         y_enc: np.ndarray) -> np.ndarray | None:
        if self.class_weight is None:
            return weights
        labeled = y_enc >= 0
        factor = np.ones(len(y_enc), dtype=np.float32)
        factor[labeled] = self._class_weights[y_enc[labeled]]
        rows = factor if weights is None else weights * factor
        if not rows.any():
            given = dict(zip(self.classes_.tolist(), self._class_weights.tolist(), strict=True))
            raise ValueError(
                f"class_weight={self.class_weight!r} gives every row of the fit the weight 0 "
                f"(class weights {given}); give some class of y a weight > 0."
            )
        return rows

    def _labeled(self, y_enc: np.ndarray) -> np.ndarray:
        return y_enc >= 0

    def _n_outputs(self) -> int:
        return len(self.classes_)

    # -- the losses ---------------------------------------------------------

    def _soft_loss_params(self) -> dict[str, Any]:
        return {"temperature": self._setting("temperature")}

    def _check_hard_loss(self) -> None:
        n_classes = len(self.classes_)
        options = self._params_with("criterion__")
        if "weight" in options:
            options["weight"] = torch.from_numpy(class_weights(options["weight"], self.classes_))
        try:
            torch.nn.CrossEntropyLoss(**options)(torch.zeros(1, n_classes),
                                                 torch.zeros(1, dtype=torch.long))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InvalidParameterError(
                f"criterion__* {sorted(options)}: torch.nn.CrossEntropyLoss refuses them: {exc}"
            ) from exc

    def _criterion_options(self, forwarded: dict[str, Any], n_outputs: int) -> dict[str, Any]:
        if "criterion__weight" in forwarded:
            forwarded = {**forwarded, "criterion__weight": torch.from_numpy(class_weights(
                forwarded["criterion__weight"], self.classes_))}
        return forwarded

    # -- the teacher and the hints ------------------------------------------

    def _teacher_inference(self) -> str:
        return self.teacher_inference

    def _label_fresh(self, fresh: FreshTransferSet,
                     outputs: TeacherOutputs | None) -> FreshTransferSet:
        return fresh.label_with(outputs, self.classes_,
                                batch_size=self._teacher_batch_size(),
                                combine=self.teacher_combine)

    def _given_outputs(self, plan: FitPlan) -> TeacherOutputs:
        outputs, y_enc = plan.given, plan.y_enc
        labeled = y_enc >= 0
        try:
            width = np.shape(outputs)[1:2]
        except ValueError:  # ragged rows: check_teacher_logits names them
            width = ()
        if width and width[0] > len(self.classes_):
            raise TeacherError(
                f"teacher_logits has {width[0]} columns, but y has {len(self.classes_)} "
                f"classes {self.classes_.tolist()}: one column per class of y, in classes_ "
                "order. If these rows lack classes the logits have columns for (a "
                "cross-validation split such as KFold can leave a rare class out of a "
                "training fold), split with StratifiedKFold so that every fold has every "
                "class, or pass the teacher itself, whose classes_ match its columns by label."
            )
        logits = check_teacher_logits(outputs, len(y_enc), len(self.classes_),
                                      classes=self.classes_)
        return TeacherOutputs(logits, None, score_teacher(logits[labeled], y_enc[labeled]))

    def _queried_outputs(self, plan: FitPlan) -> TeacherOutputs:
        return teacher_outputs(
            self.teacher, plan.X_teacher, plan.y, plan.y_enc, self.classes_,
            inference=plan.inference,
            batch_size=self._teacher_batch_size(),
            combine=self.teacher_combine, cv=self.teacher_cv,
            sample_weight=plan.weights, groups=plan.groups,
        )

    def _trained_outputs(self, outputs: TeacherOutputs, y_enc: np.ndarray) -> TeacherOutputs:
        warn_if_near_chance(outputs.score, y_enc[y_enc >= 0], len(self.classes_))
        return outputs

    def _hint_plan(self) -> HintPlan | None:
        if self.hints is None:
            return super()._hint_plan()  # refuses hint_loss__* options
        options = self._params_with("hint_loss__")
        fn, name = named_or_callable("hint_loss", self.hint_loss, get_hint_loss)
        check_options("hint_loss__", options, fn, f"hint loss {name!r}", skip=2)
        module = torch_teacher_module(self.teacher)
        pairs = [(str(s), str(t)) for s, t in self.hints]
        resolve_modules(module, [t for _, t in pairs], "teacher")
        return HintPlan(pairs, fn, name, options, float(self.hint_weight), TorchTeacher(module))

    # -- prediction -------------------------------------------------------

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: the softmax of the student's logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities, columns in ``classes_`` order.
        """
        # a float64 softmax, in place; short rows reduced column by column (numpy
        # reduces a short last axis slowly: most of predict_proba's cost on 10,000 rows)
        proba = self._student_outputs(X).astype(np.float64)
        proba -= _row_reduce(proba, np.maximum)
        np.exp(proba, out=proba)
        proba /= _row_reduce(proba, np.add)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels, in the labels seen in ``fit``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        logits = self._student_outputs(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy on the labeled rows; rows labeled ``unlabeled`` are ignored.

        So ``GridSearchCV``'s default scoring stays right on partly labeled data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.
        y : array-like of shape (n_samples,)
            Their labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows.

        Returns
        -------
        float
            Accuracy on the labeled rows.
        """
        y = np.asarray(y)
        labeled = ~unlabeled_rows(y, self.unlabeled)
        if labeled.all():
            return super().score(X, y, sample_weight)
        X = _safe_indexing(X, np.flatnonzero(labeled))
        weights = None if sample_weight is None else np.asarray(sample_weight)[labeled]
        return super().score(X, y[labeled], weights)
