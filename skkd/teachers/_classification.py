"""Teacher handling: find the adapter, align the columns to ``y``, compute the outputs.

:func:`as_teacher` wraps any supported model in a :class:`Teacher` (adapters
come from the plugin registry; :mod:`skkd.teachers` holds the built-ins).
:func:`teacher_outputs` is the teacher step of ``DistilledClassifier.fit``.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import _num_samples, check_is_fitted

from skkd._arrays import frame_like, to_tensor
from skkd.exceptions import (
    InvalidParameterError,
    PluginError,
    PluginWarning,
    TeacherError,
    TeacherNearChanceWarning,
)
from skkd.plugins import ALLOW_ENV, _caller_level, allow_list_note, describe, teacher_adapters
from skkd.teachers._adapters import PROBA_FLOOR, SklearnTeacher, Teacher, TorchTeacher, eval_mode
from skkd.teachers._dask import dask_logits, is_dask
from skkd.teachers._ensembles import (
    COMBINE,
    TeacherNode,
    as_ensemble,
    class_message,
    combine_logits,
)
from skkd.teachers._folds import CloneFitter, per_row, rows_of, split_folds
from skkd.teachers._outputs import as_float32, check_teacher_logits, has_minus_one, unlabeled_hint

__all__ = [
    "PROBA_FLOOR", "AlignedTeacher", "SklearnTeacher", "Teacher", "TeacherOutputs",
    "TorchTeacher", "as_float32", "as_teacher", "check_teacher_logits", "eval_mode",
    "is_unfitted_estimator", "teacher_logits", "share_or_clone", "teacher_outputs",
    "warn_if_near_chance",
]

#: With per-batch teaching, ``teacher_score_`` is measured on these first rows.
PROBE_ROWS = 1024


def as_teacher(obj: Any) -> Teacher:
    """Wrap ``obj`` with the first registered adapter that accepts it.

    A ``sklearn.frozen.FrozenEstimator`` is the teacher it wraps. An adapter
    that raises ``NotFittedError`` or :class:`~skkd.exceptions.TeacherError`
    refuses an object it recognises (an unfitted skorch net): that error is
    raised as it is. An adapter that raises anything else, or returns
    something that is not a :class:`Teacher`, is broken: like a broken plugin
    it is skipped with a :class:`~skkd.exceptions.PluginWarning` naming it
    and its plugin, and the next adapters are tried.

    Parameters
    ----------
    obj : object
        A teacher of any supported kind, or a :class:`Teacher` (returned as it is).

    Returns
    -------
    Teacher
        What the first accepting adapter returned.

    Raises
    ------
    TypeError
        If no adapter accepts ``obj``; the message lists the supported kinds.
        :class:`~skkd.exceptions.InvalidParameterError` (a ``TypeError``) if
        ``obj`` is a class, not an instance.
    skkd.PluginError
        If no adapter accepts ``obj`` and a broken adapter was skipped; the
        message names that adapter, its plugin and what it raised.
    """
    if isinstance(obj, Teacher):
        return obj
    while isinstance(obj, FrozenEstimator):
        obj = obj.estimator
    if isinstance(obj, type):
        raise InvalidParameterError(class_message("teacher", obj))
    adapters = teacher_adapters()
    kind = type(obj).__name__
    broken: list[tuple[str, str, BaseException | None]] = []
    for name, adapter in adapters:
        where = f"Teacher adapter {name!r} of {describe('teachers', name)}"
        try:
            teacher = adapter(obj)
        except (NotFittedError, TeacherError):
            raise  # the adapter's own verdict on an object it knows
        except Exception as exc:
            broken.append((where, f"raised {type(exc).__name__}: {exc}", exc))
        else:
            if teacher is None:
                continue
            if isinstance(teacher, Teacher):
                return teacher
            broken.append((where, f"returned {type(teacher).__name__}; an adapter must "
                                  "return a skkd.teachers.Teacher or None", None))
        warnings.warn(
            f"{where} {broken[-1][1]} (on a teacher of type {kind}). skkd skipped it and "
            "tries the other adapters; fix or uninstall that plugin, or leave it out with "
            f"{ALLOW_ENV}.", PluginWarning, stacklevel=_caller_level(),
        )
    if broken:
        where, what, exc = broken[0]
        raise PluginError(
            f"{where} {what} (on a teacher of type {kind}), and no other teacher adapter "
            f"accepts a {kind}. Fix or uninstall that plugin, or pass the teacher's outputs "
            "as fit(X, y, teacher_logits=...)."
        ) from exc
    supported = "; ".join(
        f"{name}: {(adapter.__doc__ or '').strip().splitlines()[0] if adapter.__doc__ else ''}"
        for name, adapter in adapters
    )
    raise TypeError(
        f"teacher of type {kind} is not supported. Supported teachers: "
        f"{supported}; or a sklearn.frozen.FrozenEstimator around one, or a list or "
        "EnsembleTeacher of them. Pass precomputed outputs as fit(X, y, teacher_logits=...) "
        "or register an adapter through the skkd_register_teachers hook."
        + allow_list_note()
    )


def is_unfitted_estimator(obj: Any) -> bool:
    """True for a scikit-learn estimator that has not been fitted yet.

    Parameters
    ----------
    obj : object
        Any teacher; a torch module, or an object without ``fit`` or
        ``get_params``, is never an unfitted estimator.

    Returns
    -------
    bool
    """
    if isinstance(obj, torch.nn.Module) or not hasattr(obj, "fit"):
        return False
    if not hasattr(obj, "get_params"):
        return False
    try:
        check_is_fitted(obj)
    except NotFittedError:
        return True
    except TypeError:
        return False
    return False


def share_or_clone(teacher: Any) -> Any:
    """For ``clone``: a fitted teacher (or ensemble member) is shared, an unfitted one cloned.

    Parameters
    ----------
    teacher : object, list, tuple or EnsembleTeacher
        The teacher of the estimator being cloned.

    Returns
    -------
    object
        ``teacher`` itself when fitted; otherwise a clone, member by member
        for an ensemble.
    """
    ensemble = as_ensemble(teacher)
    if ensemble is not None:
        members = [share_or_clone(m) for m in ensemble.teachers]
        return ensemble.with_teachers(members) if teacher is ensemble else type(teacher)(members)
    return clone(teacher) if is_unfitted_estimator(teacher) else teacher


def _binary_logits(z: Any) -> Any:
    """One binary logit ``z`` (log-odds of the second class) as the pair ``(-z/2, z/2)``."""
    if isinstance(z, torch.Tensor):
        return torch.cat([-z / 2, z / 2], dim=1)
    return np.concatenate([-z / 2, z / 2], axis=1)


class AlignedTeacher(Teacher):
    """A teacher whose output columns follow the student's ``classes_``.

    Columns are matched by label when the teacher has ``classes_``. A teacher
    that knows classes ``y`` lacks (a cross-validation fold without a rare
    class, as ``KFold`` makes) keeps the columns of ``y``'s classes only: the
    softmax over the kept logits renormalizes the teacher's probabilities
    over ``y``'s classes (the dropped classes' mass is shared out in
    proportion). One output column in a binary task is a single logit ``z``
    and becomes the logits ``(-z/2, z/2)``, whatever kind of teacher gave it.
    Any failure of the teacher is raised as :class:`~skkd.exceptions.TeacherError`.

    Parameters
    ----------
    teacher : Teacher
        The adapted teacher.
    classes : ndarray
        The student's classes, sorted.
    frame : pandas.DataFrame or None
        The training X when the user passed a DataFrame: training batches are
        handed to a non-torch teacher as frames with its columns and dtypes.
    missing_classes : bool, default=False
        Accept a teacher whose ``classes_`` lack some of ``classes`` (a
        cross-validation clone fitted on a fold without them): their logits
        are set far below the row's others, a probability of about 0.
    """

    def __init__(self, teacher: Teacher, classes: np.ndarray, frame: Any = None,
                 missing_classes: bool = False) -> None:
        super().__init__(teacher.model, classes)
        self.teacher = teacher
        self.columns: np.ndarray | None = None
        self.width = len(classes)  # the teacher's number of output columns
        self._frame_template = None
        if frame is not None and not isinstance(teacher, TorchTeacher):
            self._frame_template = frame.iloc[:0]
        if teacher.classes_ is not None:
            teacher_classes = teacher.classes_.tolist()
            known = set(teacher_classes)
            unseen = [c for c in classes.tolist() if c not in known]
            if unseen and not (missing_classes and known & set(classes.tolist())):
                hint = "" if has_minus_one(teacher_classes) else unlabeled_hint(classes)
                raise TeacherError(
                    f"The teacher's classes_ {teacher_classes} differ from the classes in y "
                    f"{classes.tolist()}: the teacher never saw {unseen}. Fit the teacher on "
                    "the same labels or pass teacher_logits with one column per class of y "
                    f"(a teacher may know classes y lacks: their columns are dropped).{hint}"
                )
            # -1: a class this teacher never saw (a cross-validation clone's fold);
            # the teacher's classes y lacks get no column (dropped).
            self.columns = np.array([teacher_classes.index(c) if c in known else -1
                                     for c in classes.tolist()])
            self.width = len(teacher_classes)

    def _describe(self) -> str:
        return type(self.model).__name__

    def _align(self, out: Any) -> Any:
        if out.ndim != 2:
            raise TeacherError(
                f"The teacher {self._describe()} returned outputs of shape "
                f"{tuple(out.shape)}; a teacher must return (n_samples, n_classes) logits."
            )
        expected = self.width
        width = out.shape[1]
        if width == 1 and expected == 2:
            out = _binary_logits(out)
        elif width != expected:
            what = (f"y has {expected} classes {self.classes_.tolist()}" if self.columns is None
                    else f"its classes_ are {self.teacher.classes_.tolist()}")
            hint = ("" if self.columns is not None or width < expected else
                    " If these rows lack classes the teacher knows (a cross-validation split "
                    "such as KFold can leave a rare class out of a training fold), split with "
                    "StratifiedKFold so that every fold has every class, or give the teacher "
                    "classes_ (a skorch NeuralNetClassifier has them) so that skkd can match "
                    "its columns by label.")
            raise TeacherError(
                f"The teacher {self._describe()} outputs {width} columns but {what}; the "
                f"teacher must output one logit per class.{hint}{unlabeled_hint(self.classes_)}"
            )
        if self.columns is None:
            return out
        if (self.columns >= 0).all():
            if len(self.columns) == width and (self.columns == np.arange(width)).all():
                return out
            return out[:, torch.as_tensor(self.columns) if isinstance(out, torch.Tensor)
                       else self.columns]
        # An unseen class gets a logit far below the row's others: probability ~0.
        aligned = np.asarray(out)[:, np.maximum(self.columns, 0)].copy()
        aligned[:, self.columns < 0] = aligned.min(axis=1, keepdims=True) + np.log(PROBA_FLOOR)
        return aligned

    def _call(self, fn: Any, X: Any, *args: Any) -> Any:
        try:
            return fn(X, *args)
        except TeacherError:
            raise
        except Exception as exc:
            raise TeacherError(
                f"The teacher {self._describe()} failed on input of shape "
                f"{tuple(getattr(X, 'shape', (len(X),)))}: {type(exc).__name__}: {exc}"
            ) from exc

    def logits(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        source = f"The output of the teacher {self._describe()}"
        out = as_float32(self._call(self.teacher.logits, X, batch_size), source)
        return np.ascontiguousarray(self._align(out), np.float32)

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        if self._frame_template is not None:
            frame = self._as_frame(xb.detach().cpu().numpy())
            out = np.asarray(self._call(self.teacher.logits, frame, len(frame)))
            out = to_tensor(out, dtype=torch.float32, device=xb.device)
        else:
            out = self._call(self.teacher.batch_logits, xb)
        out = self._align(out)
        if not torch.isfinite(out).all():
            raise TeacherError(
                f"The teacher {self._describe()} returned NaN or infinity on a training "
                "batch; check the teacher, or clip its probabilities before their log."
            )
        return out

    def _as_frame(self, rows: np.ndarray) -> Any:
        return frame_like(self._frame_template, rows, source="A batch augmentation")


class TeacherOutputs(NamedTuple):
    """What the teacher step of ``fit`` gives the student.

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_outputs) or None
        The teacher's outputs on the training rows, computed once: a
        classifier's logits aligned to ``classes_``, a regressor's predictions;
        None when the teacher is queried on every batch.
    per_batch : Teacher or None
        The teacher queried on every training batch, or None.
    score : float
        The teacher's accuracy on the labeled training rows.
    member_scores : list of float or None, default=None
        Each (outer) member's accuracy, for an ensemble.
    fitted : object, default=None
        The teacher as queried: unfitted members replaced by their fitted clones.
    """

    #: The outputs on the training rows (logits aligned to ``classes_``, or a
    #: regressor's predictions), or None (per-batch teaching).
    values: np.ndarray | None
    #: The teacher queried on every training batch, or None.
    per_batch: Teacher | None
    #: The teacher's accuracy on the labeled training rows (the probed ones per batch).
    score: float
    #: Each (outer) member's accuracy, for an ensemble; None for a single teacher.
    member_scores: list[float] | None = None
    #: The teacher as queried: unfitted members replaced by their fitted clones.
    fitted: Any = None


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
    if cv is not None:
        if inference != "once":
            raise InvalidParameterError(
                "teacher_cv needs teacher_inference='once': out-of-fold outputs belong to "
                "rows, and per-batch teaching queries the teacher on batches."
            )
        if not any(is_unfitted_estimator(leaf.given) for leaf in leaves):
            raise InvalidParameterError(
                "teacher_cv needs an unfitted scikit-learn teacher (or ensemble member) to "
                "fit on each fold; the teacher is fitted already."
            )
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

    def checked(a: AlignedTeacher, rows: Any, n: int) -> np.ndarray:
        return check_teacher_logits(a.logits(rows, batch_size), n, len(classes),
                                    source=f"The output of the teacher {a._describe()}",
                                    classes=classes)

    outs: dict[int, np.ndarray] = {}
    if inference == "once":
        for leaf in leaves:
            assert leaf.teacher is not None
            outs[id(leaf)] = checked(leaf.teacher, X, len(y_enc))
            if leaf.out_of_fold:
                outs[id(leaf)] = _out_of_fold(leaf.given, X, y, labeled, outs[id(leaf)],
                                              classes, cv, batch_size, groups=groups,
                                              fitter=fitter, name=leaf.describe())
        per_batch = None
        rows = labeled
    else:
        n_probe = min(len(y_enc), PROBE_ROWS)
        probe = rows_of(X, np.arange(n_probe))
        for leaf in leaves:
            assert leaf.teacher is not None
            outs[id(leaf)] = checked(leaf.teacher, probe, n_probe)
        per_batch = root.per_batch(combine)
        rows = labeled[labeled < n_probe]
    member_scores = None
    if root.is_leaf:
        logits = outs[id(root)]
    else:
        assert root.weights is not None
        members = [c.combined(lambda leaf: outs[id(leaf)], combine) for c in root.children]
        logits = combine_logits(members, root.weights, combine)
        member_scores = [score_teacher(o[rows], y_enc[rows]) for o in members]
    return TeacherOutputs(
        logits if inference == "once" else None, per_batch,
        score_teacher(logits[rows], y_enc[rows]), member_scores, spec,
    )


def _label_hint(classes: np.ndarray) -> str:
    """For a failed teacher fit: a teacher may need the labels ``0 .. n_classes - 1``."""
    if classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(len(classes))):
        return ""
    shown = classes[:5].tolist() + (["..."] if len(classes) > 5 else [])
    return (f" y's labels are {shown}, not 0 .. {len(classes) - 1}: if the teacher needs "
            "those (xgboost's XGBClassifier does), encode y first "
            "(sklearn.preprocessing.LabelEncoder; its inverse_transform maps the student's "
            "predictions back).")


def _out_of_fold(member: Any, X: Any, y: np.ndarray, labeled: np.ndarray, full: np.ndarray,
                 classes: np.ndarray, cv: Any, batch_size: int, *,
                 groups: np.ndarray | None = None, sample_weight: np.ndarray | None = None,
                 fitter: CloneFitter | None = None, name: str | None = None) -> np.ndarray:
    """Each labeled row's logits from a clone fitted without it (unlabeled rows: ``full``).

    ``groups`` and ``sample_weight`` hold one entry per row of ``X``; only the
    labeled rows' are used, sliced like the rows (a ``fitter`` carries its
    own weights instead).
    """
    frame = X if hasattr(X, "iloc") and hasattr(X, "columns") else None
    name = name or type(member).__name__
    fitter = fitter or CloneFitter(X, y, sample_weight)
    folds = split_folds(cv, y[labeled], None if groups is None else groups[labeled])
    out = full.copy()
    for i, (train, test) in enumerate(folds):
        fold = fitter.fit_fold(member, labeled[train], name, i, len(folds), classes)
        teacher = AlignedTeacher(as_teacher(fold), classes, frame=frame, missing_classes=True)
        out[labeled[test]] = check_teacher_logits(
            teacher.logits(rows_of(X, labeled[test]), batch_size), len(test), len(classes),
            source=f"The output of a cross-validation clone of {name}")
    return out


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
            stacklevel=_caller_level(),
        )
