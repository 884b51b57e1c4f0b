"""``DistilledClassifier``: knowledge distillation with a scikit-learn face."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import validate_data

from skkd._labels import encode_labels, unlabeled_rows
from skkd.augmentations._fit_time import FreshTransferSet
from skkd.estimators._base import BaseDistiller
from skkd.estimators._params import class_weights
from skkd.exceptions import InvalidParameterError, TeacherError
from skkd.teachers._classification import (
    TeacherOutputs,
    score_teacher,
    teacher_outputs,
    warn_if_near_chance,
)
from skkd.teachers._outputs import check_teacher_logits


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


class DistilledClassifier(ClassifierMixin, BaseDistiller):
    """Distill a fitted teacher into a small PyTorch student trained by skorch.

    The student minimizes

    ``alpha * cross_entropy(student, y) + (1 - alpha) * soft_loss(student, teacher; T)``

    where ``alpha`` weights the *hard-label* term, as in the Keras "Knowledge
    Distillation" example: ``alpha=1`` is plain training on the labels,
    ``alpha=0`` is pure distillation from the teacher's soft labels. The
    default soft loss ``"kl"`` is Hinton et al.'s
    ``KL(softmax(t/T) || softmax(s/T)) * T**2``.

    Parameters
    ----------
    teacher : object, list or EnsembleTeacher, default=None
        Source of soft labels: a fitted ``torch.nn.Module`` returning logits, a
        fitted skorch net, a fitted scikit-learn classifier or ``Pipeline`` with
        ``predict_proba`` or ``decision_function``, a
        ``sklearn.frozen.FrozenEstimator`` around any of them, or anything a
        teacher plugin accepts; or several of them, mixed, as a list, tuple or
        :class:`~skkd.EnsembleTeacher` (with weights), whose outputs are
        averaged (``teacher_combine``). An *unfitted* scikit-learn classifier
        is cloned and fitted on the labeled rows of ``(X, y)`` in ``fit``
        (kept in ``teacher_``). A fitted
        teacher is never refitted, mutated or copied, not even by ``clone`` or
        ``GridSearchCV``, and its parameters are not reachable through
        ``set_params`` (``teacher__*`` is for an unfitted teacher only).
        ``None`` means no soft term (the same as ``alpha=1``) unless
        ``teacher_logits`` is passed to ``fit``. A teacher without ``classes_``
        must output one column per class, in sorted label order; one column in
        a binary task is read as the logit ``z`` of the second class, i.e. the
        logits ``(-z/2, z/2)``. The teacher receives ``X`` as the user passed
        it (a pandas DataFrame keeps its column names). All arguments after
        ``teacher`` are keyword-only.
    module : str, torch.nn.Module class or instance, default="mlp"
        The student. A string names a registered model (``skkd plugins``
        lists them), built as ``factory(n_features, n_classes, **module__*)``;
        ``"tabular-mlp"`` (:class:`skkd.models.TabularMLP`) embeds numeric
        columns and category codes, for tables and tree teachers;
        a class is instantiated with the ``module__*`` parameters (and
        ``n_features`` / ``n_classes`` when its constructor takes them); an
        instance is deep-copied and trained from its current weights.
    loss : str or callable, default="kl"
        The soft loss: a registered name (``"kl"``, ``"soft_ce"``, ``"mse"``
        built in) or a callable with the loss contract
        ``fn(student_logits, teacher_logits, *, temperature, y=None, **options)``
        returning a scalar tensor (a callable pickles with the estimator, so it
        also reaches worker processes). ``loss__*`` parameters reach it as
        keyword arguments; a name it does not accept fails at the start of ``fit``.
    alpha : float in [0, 1], default=0.5
        Weight of the hard-label cross-entropy; ``1 - alpha`` weights the soft
        term. ``alpha=1`` is plain training: the teacher is then neither fitted
        nor queried. The defaults of ``alpha`` and ``temperature`` had the
        smallest mean loss of validation accuracy against the best pair over
        three tasks (``benchmarks/results/defaults.md``); the Keras example's
        ``alpha=0.1, temperature=10`` had the largest. Tune both on a
        validation split for your task.
    temperature : float > 0, default=1.0
        Softmax temperature ``T`` of the soft loss.
    optimizer : torch optimizer class, default=torch.optim.Adam
        ``optimizer__*`` parameters reach it.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int >= 1, default=20
        Number of epochs (of more epochs, when ``warm_start`` continues).
    batch_size : int, default=32
        Mini-batch size for training and prediction; -1 is one batch of all rows.
    callbacks : list of skorch callbacks, default=None
        Passed to skorch. A callback monitoring ``valid_*`` scores (e.g.
        ``EarlyStopping()``) needs ``train_split``.
    device : str, default="cpu"
        Torch device of the student. A torch teacher runs where its
        parameters are; nothing moves it.
    mixed_precision : {None, "bf16", "fp16"}, default=None
        Train the student's forward passes under ``torch.autocast`` to bfloat16
        or float16 (the loss is computed in float32; ``"fp16"`` scales it with
        a ``torch.amp.GradScaler``). Made for CUDA students (tensor cores);
        on a CPU it is usually slower. ``predict`` runs in float32.
    accelerator : accelerate.Accelerator or None, default=None
        Train one student across the processes ``torchrun`` started (one
        machine or several): each rank trains on its share of every global
        batch of ``batch_size`` rows, gradients are averaged (PyTorch's
        ``DistributedDataParallel``), and every rank ends with the same
        student. The student goes where the accelerator places it (leave
        ``device`` at its kind, or None); on a machine without a GPU, pass
        ``Accelerator(cpu=True)``. See the "Scale out" guide.
    train_split : callable or None, default=None
        skorch's internal validation split (e.g. ``skorch.dataset.ValidSplit(0.2)``);
        off by default so that ``GridSearchCV`` does not split twice.
    teacher_inference : {"once", "per_batch"}, default="once"
        ``"once"`` computes the teacher's logits for the whole training set in
        one batched pass before training; ``"per_batch"`` queries the teacher
        on every training batch, as the Keras example does, for inputs that
        change from epoch to epoch (augmentation).
    teacher_batch_size : int or None, default=None
        Batch size of the teacher's inference pass; None uses ``batch_size``.
        On a CPU, small batches keep a wide CNN's activations in cache and are
        fastest; on a GPU, raise it.
    teacher_combine : {"proba", "logits"}, default="proba"
        How the outputs of an ensemble teacher (a list, tuple or
        :class:`~skkd.EnsembleTeacher`) are averaged: as probabilities (the
        ensemble's log-probabilities become the logits) or as logits.
    teacher_cv : int, cross-validation splitter or None, default=None
        Out-of-fold teacher outputs for an *unfitted* scikit-learn teacher (or
        ensemble member): K clones are fitted, and each labeled row gets the
        output of the clone that did not see it (as ``cross_val_predict``), so
        the student learns the teacher's generalisation rather than its
        memorised labels. The clone fitted on all labeled rows is kept as
        ``teacher_`` (and answers for unlabeled rows). Needs
        ``teacher_inference="once"``.
    unlabeled : int, float, str or None, default=None
        The label that marks unlabeled rows, e.g. ``-1`` (scikit-learn's
        semi-supervised convention) or ``""`` for string labels. Those rows
        learn from the teacher's soft labels alone (they need a teacher and
        ``alpha < 1``), are not a class, and are ignored by ``score``. None:
        every label is a class (-1 is an ordinary label, as in ``{-1, 1}``).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in scikit-learn: a labeled row of class
        ``c`` weighs ``class_weight[c]`` times its ``sample_weight``, in both
        terms of the loss (the hard term's weighted mean over labeled rows,
        the soft term's over all rows), so ``class_weight`` equals
        ``sample_weight=`` the weight of each row's class. Rows without a
        class (``unlabeled`` ones, an augmentation's transfer rows) keep their
        sample weight. A dict maps ``y``'s labels to weights (an unnamed class
        weighs 1; labels ``y`` lacks are ignored when every class has a
        weight); ``"balanced"`` is ``n_samples / (n_classes * count(c))`` over
        the labeled rows, counts weighted by ``sample_weight``. The teacher
        is not weighted: an unfitted
        teacher's clone is fitted with ``sample_weight`` only (set the
        teacher's own ``class_weight``). Like ``sample_weight``, not
        supported with ``hints`` or a batch augmentation; to weight only the
        hard term's classes, use ``criterion__weight`` instead (not both).
    augment : str or None, default=None
        A registered augmentation (``skkd plugins`` lists them), built with
        the ``augment__*`` parameters. ``"munge"`` (tabular rows: MUNGE
        synthetic rows, ``augment__p``, ``augment__s``, ``augment__size``,
        labelled once by the teacher, soft term only), ``"shift"`` (images:
        random translations up to ``augment__max_shift`` pixels) and
        ``"mixup"`` (mixed pairs, soft term only) are built in. A batch
        augmentation (shift, mixup) queries the teacher on every augmented
        batch, whatever ``teacher_inference`` says ("consistent teaching").
        Rows only a teacher can label (munge, mixup) need a teacher and
        ``alpha < 1``; a label-preserving one (shift) also trains a student
        from scratch, for a like-for-like baseline.
    hints : list of (str, str) or None, default=None
        Feature distillation: pairs ``(student_module, teacher_module)`` of
        module names as ``named_modules()`` gives them, student first. Each
        pair adds a hint loss between the two modules' outputs on every
        training step (the student's through a learned adapter when the
        shapes differ). Needs a torch or skorch teacher. None: outputs only.
    hint_loss : str or callable, default="fitnets"
        The loss of each hint pair: a registered hint loss (``"fitnets"``,
        the mean squared error after the adapter, or ``"at"``, attention
        transfer) or a callable
        ``fn(student_feature, teacher_feature, **options)`` returning a scalar
        tensor; ``hint_loss__*`` parameters reach it. Unused without ``hints``.
    hint_weight : float >= 0, default=1.0
        Weight of the summed hint losses:
        ``loss = alpha * hard + (1 - alpha) * soft + hint_weight * sum(hints)``.
    warm_start : bool, default=False
        When True and the student is fitted, ``fit`` continues training it
        (weights, optimizer state, callbacks' state and random state) for
        ``max_epochs`` more epochs instead of starting anew: fitting twice
        for 2 epochs gives the student that one fit for 4 epochs gives. Use it
        to resume after a ``KeyboardInterrupt``.
    verbose : int, default=0
        skorch's verbosity (1 prints a table per epoch).
    random_state : int, RandomState instance or None, default=None
        Seeds the student's initialization, shuffling and dropout; torch's
        global random state is left as it was. Fits in several threads give
        the same results as one after another: their training steps take
        turns on torch's global random state.
    **kwargs
        ``module__*``, ``loss__*``, ``hint_loss__*``, ``criterion__*`` (the hard-label
        ``CrossEntropyLoss``: ``criterion__weight`` with one weight per class in
        ``classes_`` order or a dict ``{label: weight}``, which weights the hard
        term only, ``criterion__label_smoothing``), ``optimizer__*``,
        ``iterator_train__*``, ``iterator_valid__*`` and ``callbacks__*``
        parameters, as in skorch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, in the order of the student's outputs.
    n_features_in_ : int
        Number of features seen in ``fit``.
    encoding_ : dict
        The ``module__*`` options a data-aware student learned from the
        training rows (e.g. ``tabular-mlp``'s bins and category counts; see
        :func:`skkd.hookspecs.skkd_register_models`); empty for other students.
    teacher_ : object or None
        The teacher queried in ``fit`` (the fitted clone for an unfitted one);
        None when no teacher was queried (``alpha=1``, ``teacher_logits``
        passed, or no teacher).
    teacher_scores_ : list of float or None
        Each ensemble member's accuracy on the training data; None for a
        single teacher.
    teacher_score_ : float or None
        The teacher's accuracy on the training data, as the teacher saw it
        (on the first 1,024 rows with ``teacher_inference="per_batch"``), or of
        ``teacher_logits``; None without a soft term.
    net_ : skorch.NeuralNet
        The fitted skorch net holding the student in ``net_.module_``.
    history_ : skorch.History
        ``net_.history``: per-epoch losses and timings.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skkd import DistilledClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> teacher = LogisticRegression(max_iter=1000).fit(X, y)
    >>> student = DistilledClassifier(teacher=teacher, alpha=0.1, temperature=4.0,
    ...                               max_epochs=5, random_state=0).fit(X, y)
    >>> student.predict(X[:3])
    array([0, 1, 2])
    """

    def __init__(
        self,
        teacher: Any = None,
        *,
        module: Any = "mlp",
        loss: str | Callable[..., Any] = "kl",
        alpha: float = 0.5,
        temperature: float = 1.0,
        optimizer: Any = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 20,
        batch_size: int = 32,
        callbacks: Any = None,
        device: str = "cpu",
        mixed_precision: str | None = None,
        accelerator: Any = None,
        train_split: Any = None,
        teacher_inference: str = "once",
        teacher_batch_size: int | None = None,
        teacher_combine: str = "proba",
        teacher_cv: Any = None,
        unlabeled: Any = None,
        class_weight: Any = None,
        augment: str | None = None,
        hints: Any = None,
        hint_loss: str | Callable[..., Any] = "fitnets",
        hint_weight: float = 1.0,
        warm_start: bool = False,
        verbose: int = 0,
        random_state: Any = None,
        **kwargs: Any,
    ) -> None:
        self.teacher = teacher
        self.module = module
        self.loss = loss
        self.alpha = alpha
        self.temperature = temperature
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.callbacks = callbacks
        self.device = device
        self.mixed_precision = mixed_precision
        self.accelerator = accelerator
        self.train_split = train_split
        self.teacher_inference = teacher_inference
        self.teacher_batch_size = teacher_batch_size
        self.teacher_combine = teacher_combine
        self.teacher_cv = teacher_cv
        self.unlabeled = unlabeled
        self.class_weight = class_weight
        self.augment = augment
        self.hints = hints
        self.hint_loss = hint_loss
        self.hint_weight = hint_weight
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state
        # The module__*, loss__*, ... parameters, tracked apart from attributes.
        self._keyword_params = dict(kwargs)

    # -- fitting ----------------------------------------------------------

    def fit(self, X: Any, y: Any, teacher_logits: Any = None, sample_weight: Any = None,
            groups: Any = None) -> DistilledClassifier:
        """Train the student on ``(X, y)`` and the teacher's soft labels.

        With ``warm_start=True`` and a fitted student, training continues from
        it (its weights, optimizer state and random state) for ``max_epochs``
        more epochs. A fit either completes or leaves a fitted estimator as it
        was: every parameter, the labels and the teacher's outputs are checked
        and computed before any fitted attribute changes, and an error in
        training a new student restores the previous one. Two exceptions keep
        what was trained, with its own labels: a ``KeyboardInterrupt`` during
        training (``net_``, ``history_``; the interrupt is re-raised), and an
        error while ``warm_start`` continues a student, which trains it in place.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows. The teacher receives ``X`` as passed (a DataFrame
            keeps its column names); the student gets it as a float32 array.
        y : array-like of shape (n_samples,)
            Class labels (any hashable labels: ints, strings, ...). Rows
            labeled ``unlabeled`` (e.g. -1) get only the soft term.
        teacher_logits : array-like of shape (n_samples, n_classes), default=None
            Precomputed teacher outputs, columns in sorted label order
            (``classes_``); log-probabilities are valid logits. Use it when the
            teacher must see other inputs than the student, e.g. raw features
            while the student sits after a transformer in a ``Pipeline``
            (route it as ``distilledclassifier__teacher_logits``). The
            ``teacher`` is then not queried.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights: each batch's hard loss is the weighted
            mean over its labeled rows (times ``class_weight`` or
            ``criterion__weight`` of their class) and its soft loss the
            weighted mean over all its rows (times ``class_weight``), so
            integer weights act as repeated rows and a zero weight as a
            dropped row. An unfitted teacher's clones (``teacher_cv``'s too)
            are fitted with the weights when their ``fit`` accepts
            ``sample_weight``. Rows an augmentation adds weigh the mean weight.
            Needs a soft loss that takes ``sample_weight`` (the built-ins do;
            see :func:`skkd.hookspecs.skkd_register_losses`), and is not
            supported with ``hints`` or a batch augmentation (``"shift"``,
            ``"mixup"``).
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter in ``teacher_cv`` (e.g.
            ``GroupKFold``); used for nothing else.

        Returns
        -------
        self : DistilledClassifier
            The fitted estimator.
        """
        return self._fit(X, y, teacher_logits, sample_weight, groups)

    # -- the classification hooks of BaseDistiller -------------------------

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        return validate_data(self, X, y, dtype=np.float32, reset=reset)

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

    def _check_sample_weight(self, sample_weight: Any, X: np.ndarray, soft_loss: Any,
                             loss_name: str, augmentation: Any,
                             hint_plan: Any) -> np.ndarray | None:
        if self.class_weight is not None:
            if "criterion__weight" in self._keyword_params:
                raise InvalidParameterError(
                    "class_weight and criterion__weight both weight the classes: pass one. "
                    "class_weight weights whole rows (both terms, as scikit-learn's "
                    "class_weight does); criterion__weight the hard term only."
                )
            try:  # class weights are row weights: sample_weight's limits apply
                super()._check_sample_weight(np.ones(len(X)), X, soft_loss, loss_name,
                                             augmentation, hint_plan)
            except InvalidParameterError as exc:
                raise InvalidParameterError(
                    f"class_weight={self.class_weight!r} weights the rows of each class, as "
                    f"sample_weight does. {exc} To weight the hard term's classes only, pass "
                    "criterion__weight={label: weight} instead of class_weight."
                ) from exc
        return super()._check_sample_weight(sample_weight, X, soft_loss, loss_name,
                                            augmentation, hint_plan)

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

    def _soft_loss_params(self) -> dict[str, Any]:
        return {"temperature": self.temperature}

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

    def _label_fresh(self, fresh: FreshTransferSet,
                     outputs: TeacherOutputs | None) -> FreshTransferSet:
        return fresh.label_with(outputs, self.classes_,
                                batch_size=self.teacher_batch_size or self.batch_size,
                                combine=self.teacher_combine)

    def _given_outputs(self, outputs: Any, y: np.ndarray, y_enc: np.ndarray) -> TeacherOutputs:
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

    def _queried_outputs(self, X_teacher: Any, y: np.ndarray, y_enc: np.ndarray,
                         inference: str, *, sample_weight: Any,
                         groups: Any) -> TeacherOutputs:
        return teacher_outputs(
            self.teacher, X_teacher, y, y_enc, self.classes_,
            inference=inference,
            batch_size=self.teacher_batch_size or self.batch_size,
            combine=self.teacher_combine, cv=self.teacher_cv,
            sample_weight=sample_weight, groups=groups,
        )

    def _trained_outputs(self, outputs: TeacherOutputs, y_enc: np.ndarray) -> TeacherOutputs:
        warn_if_near_chance(outputs.score, y_enc[y_enc >= 0], len(self.classes_))
        return outputs

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


if importlib.util.find_spec("skl2onnx") is not None:  # the "onnx" extra
    from skkd.export import register_converter

    register_converter(DistilledClassifier)
