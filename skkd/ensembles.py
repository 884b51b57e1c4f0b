"""Teacher ensembles: several teachers of any kinds, their outputs combined.

``DistilledClassifier(teacher=[hgb, forest, cnn])`` or
``teacher=EnsembleTeacher([hgb, forest, cnn], weights=[2, 1, 1])``: every
member is queried like a single teacher, and the members' outputs are
averaged, as probabilities (default) or as logits (``teacher_combine``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from skkd.adapters import PROBA_FLOOR, Teacher
from skkd.exceptions import InvalidParameterError

COMBINE = ("proba", "logits")


class EnsembleTeacher:
    """Several teachers whose outputs are averaged, with optional weights.

    Fitted members are shared, never copied or refitted (also by ``clone`` and
    ``GridSearchCV``); an unfitted scikit-learn member is fitted as a clone in
    ``DistilledClassifier.fit``. A plain list or tuple of teachers is the same
    as ``EnsembleTeacher(teachers)``.

    Parameters
    ----------
    teachers : sequence of teachers
        Any supported teachers, mixed (scikit-learn, skorch, torch, plugins).
    weights : sequence of float or None, default=None
        One non-negative weight per teacher, not all zero; None weighs them
        equally. Weights are normalized to sum to one.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skkd import DistilledClassifier, EnsembleTeacher
    >>> X, y = load_digits(return_X_y=True)
    >>> teacher = EnsembleTeacher([LogisticRegression(max_iter=500),
    ...                            RandomForestClassifier(n_estimators=20, random_state=0)],
    ...                           weights=[1, 2])
    >>> student = DistilledClassifier(teacher, max_epochs=2, random_state=0).fit(X / 16, y)
    >>> len(student.teacher_scores_)
    2
    """

    def __init__(self, teachers: Sequence[Any], weights: Sequence[float] | None = None) -> None:
        self.teachers = list(teachers)
        self.weights = None if weights is None else [float(w) for w in weights]

    def __repr__(self) -> str:
        names = ", ".join(type(t).__name__ for t in self.teachers)
        weights = "" if self.weights is None else f", weights={self.weights}"
        return f"EnsembleTeacher([{names}]{weights})"

    def normalized_weights(self) -> np.ndarray:
        """The weights, checked and summing to one.

        Returns
        -------
        ndarray of shape (n_teachers,)
            Equal weights when ``weights`` is None.

        Raises
        ------
        skkd.InvalidParameterError
            If there are no teachers, or the weights are not one finite,
            non-negative number per teacher, not all zero.
        """
        if not self.teachers:
            raise InvalidParameterError("An ensemble teacher needs at least one teacher.")
        if self.weights is None:
            return np.full(len(self.teachers), 1 / len(self.teachers))
        weights = np.asarray(self.weights, dtype=np.float64)
        if (weights.shape != (len(self.teachers),) or not np.isfinite(weights).all()
                or (weights < 0).any() or weights.sum() == 0):
            raise InvalidParameterError(
                f"EnsembleTeacher weights {self.weights} must be {len(self.teachers)} finite, "
                "non-negative numbers, not all zero (one per teacher)."
            )
        return weights / weights.sum()

    def with_teachers(self, teachers: Sequence[Any]) -> EnsembleTeacher:
        """The same ensemble (weights) over other member objects.

        Parameters
        ----------
        teachers : sequence of teachers
            One per member, in the same order (e.g. fitted clones).

        Returns
        -------
        EnsembleTeacher
        """
        return EnsembleTeacher(teachers, self.weights)


def as_ensemble(teacher: Any) -> EnsembleTeacher | None:
    """An :class:`EnsembleTeacher` for a list, tuple or ensemble; None for one teacher."""
    if isinstance(teacher, EnsembleTeacher):
        return teacher
    if isinstance(teacher, list | tuple):
        return EnsembleTeacher(teacher)
    return None


def combine_logits(outputs: Sequence[Any], weights: np.ndarray, how: str) -> Any:
    """Average members' logits (``"logits"``) or probabilities (``"proba"``, as log-probs).

    Works on numpy arrays and on torch tensors alike.
    """
    if isinstance(outputs[0], torch.Tensor):
        stacked = torch.stack([o.float() for o in outputs])
        w = torch.as_tensor(weights, dtype=stacked.dtype, device=stacked.device)[:, None, None]
        if how == "logits":
            return (w * stacked).sum(0)
        proba = (w * torch.softmax(stacked, dim=2)).sum(0)
        return proba.clamp_min(PROBA_FLOOR).log()
    stacked = np.stack([np.asarray(o, dtype=np.float64) for o in outputs])
    w = weights[:, None, None]
    if how == "logits":
        return (w * stacked).sum(0).astype(np.float32)
    shifted = np.exp(stacked - stacked.max(axis=2, keepdims=True))
    proba = (w * shifted / shifted.sum(axis=2, keepdims=True)).sum(0)
    return np.log(np.clip(proba, PROBA_FLOOR, None)).astype(np.float32)


class CombinedTeacher(Teacher):
    """Members (already aligned to the student's classes) queried and combined per batch."""

    def __init__(self, members: Sequence[Teacher], weights: np.ndarray, how: str) -> None:
        super().__init__([m.model for m in members], members[0].classes_)
        self.members, self.weights, self.how = list(members), weights, how

    def logits(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        return combine_logits([m.logits(X, batch_size) for m in self.members],
                              self.weights, self.how)

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        return combine_logits([m.batch_logits(xb) for m in self.members], self.weights,
                              self.how)
