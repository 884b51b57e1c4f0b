"""The teacher step of ``DistilledClassifier.fit``, and a teacher's logits on their own.

:func:`teacher_outputs` fits what is unfitted, queries every teacher through
the registered adapters (:func:`~skkd.teachers._lookup.as_teacher`), aligns
its columns to ``classes_`` (:class:`~skkd.teachers._aligned.AlignedTeacher`),
combines an ensemble's members, checks and scores the result.
:func:`teacher_logits` computes the same logits for ``fit(teacher_logits=...)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import _num_samples

from skkd._warnings import caller_level
from skkd.exceptions import InvalidParameterError, TeacherNearChanceWarning
from skkd.teachers._aligned import AlignedTeacher
from skkd.teachers._dask import dask_logits, is_dask
from skkd.teachers._ensembles import COMBINE, TeacherNode
from skkd.teachers._folds import (
    CloneFitter,
    is_unfitted_estimator,
    out_of_fold,
    per_row,
    refuse_cv_without_clones,
    rows_of,
)
from skkd.teachers._lookup import as_teacher
from skkd.teachers._outputs import TeacherOutputs, as_float32, check_teacher_logits

__all__ = ["score_teacher", "teacher_logits", "teacher_outputs", "warn_if_near_chance"]

#: With per-batch teaching, ``teacher_score_`` is measured on these first rows.
PROBE_ROWS = 1024


def teacher_outputs(
    teacher: Any,
    X: Any,
    y: np.ndarray,
    y_enc: np.ndarray,
    classes: np.ndarray,
    *,
    inference: str = "once",
    batch_size: int = 1024,
    combine: str = "proba",
    cv: Any = None,
    groups: Any = None,
    sample_weight: Any = None,
) -> TeacherOutputs:
    """The teacher step of a fit: fit what is unfitted, query, combine, check and score.

    Parameters
    ----------
    teacher : object, list, tuple or EnsembleTeacher
        One teacher or an ensemble, possibly nested (see
        :class:`~skkd.EnsembleTeacher`). An unfitted scikit-learn teacher (or
        member) is cloned and fitted on the labeled rows.
    X : array-like or DataFrame
        The rows as the user passed them.
    y, y_enc : ndarray
        The labels as given and encoded (``-1`` marks an unlabeled row).
    classes : ndarray
        The student's sorted classes.
    inference : {"once", "per_batch"}
        ``"once"`` computes all logits in one batched pass; ``"per_batch"``
        returns the teacher to query on every training batch, checked and
        scored on the first :data:`PROBE_ROWS` rows.
    batch_size : int
        Batch size of the teacher's pass.
    combine : {"proba", "logits"}
        How an ensemble's outputs are averaged, at every level of nesting.
    cv : int, cross-validation splitter or None
        Out-of-fold outputs for unfitted scikit-learn teachers: each labeled
        row gets the output of a clone that was not fitted on it.
    groups : array-like of shape (n_samples,) or None
        Group labels of the rows, for a ``cv`` that splits by groups
        (``GroupKFold``, ``StratifiedGroupKFold``, ...); only the labeled rows'
        are used. Unused without ``cv``.
    sample_weight : array-like of shape (n_samples,), float or None
        Weights of the rows for fitting unfitted teachers: the full clone and
        every ``cv`` clone get the weights of the rows they are fitted on.
        Fitted teachers are not refitted, so weights do not change them. With
        scikit-learn's metadata routing off (its default) the weights are
        passed as ``fit(..., sample_weight=...)`` to a teacher whose ``fit``
        takes that argument; one whose ``fit`` does not (a ``Pipeline``, for
        one) is fitted unweighted, with one
        :class:`~skkd.exceptions.SampleWeightIgnoredWarning` per call naming
        it. With routing on, each teacher's own request decides, as in
        scikit-learn's meta-estimators: ``set_fit_request(sample_weight=True)``
        on the teacher (or on a Pipeline's step) passes them, ``False`` does
        not, and an unset request of a teacher that accepts them is an error.

    Returns
    -------
    TeacherOutputs
        Outputs are checked (shape, finiteness) before any training.

    Raises
    ------
    skkd.InvalidParameterError
        For a teacher given as a class, an empty ensemble, bad weights,
        ``groups`` or ``sample_weight`` of the wrong shape, a group splitter
        without ``groups``, or ``cv`` with nothing to fit.
    skkd.TeacherError
        When a teacher's outputs break the teacher contract, or a ``cv``
        clone fails to fit (the message names the fold and any classes its
        rows lack).
    """
    root = TeacherNode(teacher)
    leaves = root.leaves()
    labeled = np.flatnonzero(y_enc >= 0)
    groups = per_row(groups, "groups", len(y_enc))
    sample_weight = per_row(sample_weight, "sample_weight", len(y_enc), dtype=np.float64)
    if cv is not None and inference != "once":
        raise InvalidParameterError(
            "teacher_cv needs teacher_inference='once': out-of-fold outputs belong to "
            "rows, and per-batch teaching queries the teacher on batches."
        )
    refuse_cv_without_clones(cv, leaves)
    frame = X if hasattr(X, "iloc") and hasattr(X, "columns") else None
    fitter = CloneFitter(X, y, sample_weight)
    for leaf in leaves:
        if is_unfitted_estimator(leaf.given):
            leaf.fitted = fitter.fit_labeled(leaf.given, labeled, leaf.describe(),
                                             _label_hint(classes))
            leaf.out_of_fold = cv is not None
        leaf.teacher = AlignedTeacher(as_teacher(leaf.fitted), classes, frame=frame)
    fitter.warn_unweighted()
    spec = root.rebuild()
    outs: dict[int, np.ndarray] = {}
    if inference == "once":
        for leaf in leaves:
            outs[id(leaf)] = _checked(leaf, X, len(y_enc), classes, batch_size)
            if leaf.out_of_fold:
                outs[id(leaf)] = out_of_fold(
                    leaf.given, fitter, labeled, outs[id(leaf)], cv,
                    _fold_logits(leaf.describe(), classes, frame, batch_size),
                    groups=groups, name=leaf.describe(), classes=classes)
        per_batch, rows = None, labeled
    else:
        n_probe = min(len(y_enc), PROBE_ROWS)
        probe = rows_of(X, np.arange(n_probe))
        for leaf in leaves:
            outs[id(leaf)] = _checked(leaf, probe, n_probe, classes, batch_size)
        per_batch, rows = root.per_batch(combine), labeled[labeled < n_probe]
    logits, members = root.with_members(lambda leaf: outs[id(leaf)], combine)
    member_scores = (None if members is None
                     else [score_teacher(o[rows], y_enc[rows]) for o in members])
    return TeacherOutputs(
        logits if inference == "once" else None, per_batch,
        score_teacher(logits[rows], y_enc[rows]), member_scores, spec,
    )


def _checked(leaf: TeacherNode, rows: Any, n: int, classes: np.ndarray,
             batch_size: int) -> np.ndarray:
    """A leaf's aligned teacher's logits on ``rows`` (``n`` of them), checked."""
    aligned = leaf.teacher
    assert isinstance(aligned, AlignedTeacher)
    return check_teacher_logits(aligned.logits(rows, batch_size), n, len(classes),
                                source=f"The output of the teacher {aligned._describe()}",
                                classes=classes)


def _fold_logits(name: str, classes: np.ndarray, frame: Any,
                 batch_size: int) -> Callable[[Any, Any, int], np.ndarray]:
    """How :func:`~skkd.teachers._folds.out_of_fold` queries a ``teacher_cv`` clone of ``name``.

    The clone's columns are aligned to ``classes`` by label; classes its
    fold lacked get a probability of about 0.
    """
    def query(fold: Any, rows: Any, n: int) -> np.ndarray:
        teacher = AlignedTeacher(as_teacher(fold), classes, frame=frame, missing_classes=True)
        return check_teacher_logits(teacher.logits(rows, batch_size), n, len(classes),
                                    source=f"The output of a cross-validation clone of {name}")
    return query


def _label_hint(classes: np.ndarray) -> str:
    """For a failed teacher fit: a teacher may need the labels ``0 .. n_classes - 1``."""
    if classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(len(classes))):
        return ""
    shown = classes[:5].tolist() + (["..."] if len(classes) > 5 else [])
    return (f" y's labels are {shown}, not 0 .. {len(classes) - 1}: if the teacher needs "
            "those (xgboost's XGBClassifier does), encode y first "
            "(sklearn.preprocessing.LabelEncoder; its inverse_transform maps the student's "
            "predictions back).")




def teacher_logits(teacher: Any, X: Any, *, classes: Any = None, batch_size: int = 1024,
                   combine: str = "proba") -> np.ndarray:
    """A fitted teacher's (or ensemble's) logits on ``X``, to pass as ``fit(teacher_logits=)``.

    Compute a slow teacher's outputs once and hand them to a whole
    ``GridSearchCV``, which slices them per fold like ``X``.

    Parameters
    ----------
    teacher : object, list, tuple or EnsembleTeacher
        A fitted teacher of any supported kind, or several (ensembles may
        nest, see :class:`~skkd.EnsembleTeacher`).
    X : array-like, DataFrame, dask array or dask DataFrame
        The rows, as the teacher expects them. On a dask collection the
        outputs are computed per partition on the cluster
        (:mod:`skkd.teachers._dask`) and returned as a dask array.
    classes : array-like or None, default=None
        The column order: the student's ``classes_``, i.e. the sorted labels of
        ``y``. None uses the teacher's sorted ``classes_`` (a torch teacher's
        columns as they are).
    batch_size : int, default=1024
        Batch size of the teacher's pass.
    combine : {"proba", "logits"}, default="proba"
        How an ensemble's outputs are averaged.

    Returns
    -------
    ndarray (dask array for dask ``X``) of shape (n_samples, n_classes), float32
        Log-probabilities (probabilities clipped at
        :data:`~skkd.teachers.PROBA_FLOOR`) or logits, one column per class.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If a teacher (or member) is an unfitted scikit-learn estimator.
    skkd.InvalidParameterError
        For a teacher given as a class, an empty ensemble or a bad ``combine``.
    skkd.TeacherError
        When the outputs are not one finite number per sample and class.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skkd import DistilledClassifier, teacher_logits
    >>> X, y = load_iris(return_X_y=True)
    >>> teacher = LogisticRegression(max_iter=1000).fit(X, y)
    >>> logits = teacher_logits(teacher, X)
    >>> logits.shape, logits.dtype
    ((150, 3), dtype('float32'))
    >>> student = DistilledClassifier(max_epochs=2, random_state=0)
    >>> student.fit(X, y, teacher_logits=logits).teacher_score_ > 0.9
    True
    """
    if combine not in COMBINE:
        raise InvalidParameterError(
            f"teacher_logits: combine={combine!r}; choose one of {', '.join(COMBINE)}.")
    if is_dask(X):  # one task per partition, on the cluster
        return dask_logits(teacher_logits, teacher, X, classes=classes, batch_size=batch_size,
                           combine=combine)
    root = TeacherNode(teacher)
    leaves = root.leaves()
    unfitted = [leaf.describe() for leaf in leaves if is_unfitted_estimator(leaf.given)]
    if unfitted:
        raise NotFittedError(
            f"teacher_logits needs fitted teachers; {', '.join(unfitted)} "
            f"{'is' if len(unfitted) == 1 else 'are'} not fitted: fit it first.")
    adapted = [as_teacher(leaf.given) for leaf in leaves]
    raw = None
    if classes is None:
        known = next((a.classes_ for a in adapted if a.classes_ is not None), None)
        if known is None:  # the columns are the classes: query once, align those outputs
            raw = [as_float32(a.logits(X, batch_size), "The teacher's output")
                   for a in adapted]
            classes = np.arange(max(raw[0].shape[1] if raw[0].ndim == 2 else 1, 2))
        else:
            classes = np.sort(known)
    classes = np.asarray(classes)
    n = _num_samples(X)
    outs: dict[int, np.ndarray] = {}
    for i, (leaf, a) in enumerate(zip(leaves, adapted, strict=True)):
        aligned = AlignedTeacher(a, classes)
        out = aligned.logits(X, batch_size) if raw is None else np.ascontiguousarray(
            aligned._align(raw[i]), np.float32)
        outs[id(leaf)] = check_teacher_logits(out, n, len(classes), classes=classes,
                                              source=f"The output of {leaf.describe()}")
    return root.combined(lambda leaf: outs[id(leaf)], combine)


def score_teacher(logits: np.ndarray, y_enc: np.ndarray) -> float:
    """The teacher's accuracy: how often its top logit is the label."""
    return float(np.mean(np.argmax(logits, axis=1) == y_enc)) if len(y_enc) else float("nan")


def warn_if_near_chance(score: float, y_enc: np.ndarray, n_classes: int) -> None:
    """Warn (:class:`~skkd.exceptions.TeacherNearChanceWarning`) near chance level.

    The warning points at the first frame outside skkd (the user's ``fit``).

    Parameters
    ----------
    score : float
        The teacher's accuracy on the training rows.
    y_enc : ndarray of int
        The encoded labels of those rows (``0 .. n_classes - 1``).
    n_classes : int
        The number of classes.
    """
    chance = np.bincount(y_enc, minlength=n_classes).max() / max(len(y_enc), 1)
    if score < chance + 0.25 * (1 - chance):
        warnings.warn(
            f"The teacher's accuracy on the training data is {score:.3f}, near chance level "
            f"({chance:.3f}). It probably receives features it was not trained on, e.g. after "
            "a transformer in a Pipeline: fit the teacher on the same features, or pass its "
            "outputs on its own inputs as fit(..., teacher_logits=...) "
            "(distilledclassifier__teacher_logits in a Pipeline).",
            TeacherNearChanceWarning,
            stacklevel=caller_level(),
        )
