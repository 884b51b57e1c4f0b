"""Teacher ensembles: several teachers of any kinds, their outputs combined.

``DistilledClassifier(teacher=[hgb, forest, cnn])`` or
``teacher=EnsembleTeacher([hgb, forest, cnn], weights=[2, 1, 1])``: every
member is queried like a single teacher, and the members' outputs are
averaged, as probabilities (default) or as logits (``teacher_combine``); a
``DistilledRegressor``'s members' predictions are averaged as they are.
Ensembles nest: a member may itself be an ensemble (or a list).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from skkd.exceptions import InvalidParameterError
from skkd.teachers._adapters import PROBA_FLOOR, Teacher

COMBINE = ("proba", "logits")


class EnsembleTeacher:
    """Several teachers whose outputs are averaged, with optional weights.

    Fitted members are shared, never copied or refitted (also by ``clone`` and
    ``GridSearchCV``); an unfitted scikit-learn member is fitted as a clone in
    ``fit`` (of ``DistilledClassifier`` or ``DistilledRegressor``). A plain
    list or tuple of teachers is the same as ``EnsembleTeacher(teachers)``.

    **Nested ensembles.** A member may itself be an ensemble, e.g.
    ``[EnsembleTeacher([a, b], weights=[3, 1]), c]`` or ``[[a, b], c]``. It is
    combined first: its own members' outputs, averaged with its own weights by
    the same rule as the outer ensemble (``teacher_combine``: probabilities or
    logits), give one output, which is then one member of the outer ensemble,
    weighted by the outer weight. Both rules being weighted means, this equals
    the flat ensemble ``[a, b, c]`` with weights multiplied along the nesting
    (``[3/8, 1/8, 1/2]`` above), up to the clipping of probabilities at
    :data:`~skkd.teachers.PROBA_FLOOR`. ``teacher_scores_`` has one score per
    outer member (the inner ensemble's combined output's), and ``teacher_``
    keeps the nesting, unfitted members replaced by their fitted clones.

    Parameters
    ----------
    teachers : sequence of teachers
        Any supported teachers, mixed (scikit-learn, skorch, torch, plugins,
        ensembles); at least one.
    weights : sequence of float or None, default=None
        One finite, non-negative weight per teacher, not all zero; None weighs
        them equally. Weights are normalized to sum to one (however large or
        small they are: only their ratios count).

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
        names = ", ".join(repr(t) if as_ensemble(t) is not None else type(t).__name__
                          for t in self.teachers)
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
            raise InvalidParameterError(
                "EnsembleTeacher([]) has no teachers; an ensemble needs at least one.")
        if self.weights is None:
            return np.full(len(self.teachers), 1 / len(self.teachers))
        return normalize_weights(self.weights, len(self.teachers))

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


def normalize_weights(weights: Any, n: int) -> np.ndarray:
    """``weights`` divided by their sum, checked: ``n`` finite, non-negative, not all zero.

    The weights are divided by the largest first, so that weights whose sum
    overflows (``[1e308, 1e308]``) or underflows keep their ratios.

    Parameters
    ----------
    weights : array-like of shape (n,)
        The ``weights`` of an :class:`EnsembleTeacher`.
    n : int
        The number of teachers.

    Returns
    -------
    ndarray of shape (n,), float64
        Summing to one.

    Raises
    ------
    skkd.InvalidParameterError
        Naming ``weights`` and what is wrong with them.
    """
    shown = [float(w) for w in np.ravel(np.asarray(weights, dtype=np.float64))]
    w = np.asarray(weights, dtype=np.float64)
    problem = None
    if w.shape != (n,):
        problem = f"{w.size} weight{'s' * (w.size != 1)} for {n} teachers"
    elif not np.isfinite(w).all():
        problem = "a weight is NaN or infinite"
    elif (w < 0).any():
        problem = "a weight is negative"
    elif not (w > 0).any():
        problem = "all weights are zero"
    if problem is not None:
        raise InvalidParameterError(
            f"EnsembleTeacher weights {shown} must be {n} finite, non-negative numbers, not "
            f"all zero (one per teacher): {problem}. Pass weights=None for equal weights."
        )
    w = w / w.max()
    return w / w.sum()


def as_ensemble(teacher: Any) -> EnsembleTeacher | None:
    """An :class:`EnsembleTeacher` for a list, tuple or ensemble; None for one teacher."""
    if isinstance(teacher, EnsembleTeacher):
        return teacher
    if isinstance(teacher, list | tuple):
        return EnsembleTeacher(teacher)
    return None


def combine_outputs(outputs: Sequence[Any], weights: np.ndarray, how: str) -> Any:
    """Average members' outputs: logits, probabilities, or a regressor's predictions.

    ``how`` is ``"logits"`` (a weighted mean of the logits), ``"proba"`` (of
    the probabilities, returned as log-probabilities) or ``"predictions"``
    (a regressor's members' predictions, numpy only: averaged in float64 and
    kept float64, as their digits matter at large offsets of ``y``). Logits
    and probabilities work on numpy arrays and on torch tensors alike.
    ``weights`` (one per output, non-negative) are normalized to sum to one
    here too.
    """
    weights = normalize_weights(weights, len(outputs))
    if how == "predictions":
        stacked = np.stack([np.asarray(o, dtype=np.float64) for o in outputs])
        return (weights[:, None, None] * stacked).sum(0)
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
        return combine_outputs([m.logits(X, batch_size) for m in self.members],
                              self.weights, self.how)

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        return combine_outputs([m.batch_logits(xb) for m in self.members], self.weights,
                              self.how)


def class_message(path: str, cls: type) -> str:
    """The error for a teacher given as a class: ``teacher is the class X; pass X()``."""
    return f"{path} is the class {cls.__name__}; pass an instance, e.g. {cls.__name__}()."


class TeacherNode:
    """One teacher of a (possibly nested) ensemble: a leaf, or an ensemble of nodes.

    ``TeacherNode(teacher)`` is the tree of what the user passed. Building it
    refuses what cannot teach before anything is fitted: a class instead of
    an instance, an empty ensemble, bad weights. ``path`` names a node as the
    user wrote it (``teacher[0][1]``). The teacher step sets each leaf's
    ``fitted`` model and aligned ``teacher``; :meth:`combined` and
    :meth:`per_batch` then combine bottom-up, each ensemble with its own
    weights (see :class:`EnsembleTeacher`).

    Parameters
    ----------
    given : object
        A teacher, a list or tuple of teachers, or an :class:`EnsembleTeacher`.
    path : str, default="teacher"
        Its name in error messages.
    """

    def __init__(self, given: Any, path: str = "teacher") -> None:
        if isinstance(given, type):
            raise InvalidParameterError(class_message(path, given))
        self.given, self.path, self.fitted = given, path, given
        self.teacher: Teacher | None = None  # a leaf's, aligned to the classes
        self.out_of_fold = False
        self.weights: np.ndarray | None = None
        self.children: list[TeacherNode] = []
        ensemble = as_ensemble(given)
        if ensemble is None:
            return
        if not ensemble.teachers:
            raise InvalidParameterError(
                f"{path} is an empty ensemble ({given!r}); an ensemble needs at least one "
                "teacher.")
        try:
            self.weights = ensemble.normalized_weights()
        except InvalidParameterError as exc:
            if path == "teacher":
                raise
            raise InvalidParameterError(f"{path}: {exc}") from exc
        self.children = [TeacherNode(m, f"{path}[{i}]") for i, m in enumerate(ensemble.teachers)]

    @property
    def is_leaf(self) -> bool:
        return self.weights is None

    def leaves(self) -> list[TeacherNode]:
        return [self] if self.is_leaf else [leaf for c in self.children for leaf in c.leaves()]

    def describe(self) -> str:
        """``teacher[1] (LogisticRegression)``, or ``LogisticRegression`` for a lone teacher."""
        name = type(self.given).__name__
        return name if self.path == "teacher" else f"{self.path} ({name})"

    def rebuild(self) -> Any:
        """The teacher as queried: the same nesting, each leaf its ``fitted`` model."""
        if self.is_leaf:
            return self.fitted
        fitted = [c.rebuild() for c in self.children]
        if isinstance(self.given, EnsembleTeacher):
            self.fitted = self.given.with_teachers(fitted)
        else:
            self.fitted = type(self.given)(fitted)
        return self.fitted

    def combined(self, leaf_output: Callable[[TeacherNode], Any], how: str) -> Any:
        """This node's output: a leaf's own, or its members' combined with its weights."""
        if self.is_leaf:
            return leaf_output(self)
        assert self.weights is not None
        return combine_outputs([c.combined(leaf_output, how) for c in self.children],
                              self.weights, how)

    def with_members(self, leaf_output: Callable[[TeacherNode], Any], how: str
                     ) -> tuple[Any, list[Any] | None]:
        """:meth:`combined`, and the outer members' own outputs (None for a leaf), to score."""
        if self.is_leaf:
            return leaf_output(self), None
        assert self.weights is not None
        members = [c.combined(leaf_output, how) for c in self.children]
        return combine_outputs(members, self.weights, how), members

    def per_batch(self, how: str) -> Teacher:
        """The teacher to query on every batch: a leaf's, or a combination of members'."""
        if self.is_leaf:
            assert self.teacher is not None
            return self.teacher
        assert self.weights is not None
        return CombinedTeacher([c.per_batch(how) for c in self.children], self.weights, how)
