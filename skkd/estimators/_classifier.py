"""``DistilledClassifier``: knowledge distillation with a scikit-learn face.

The estimator's parameters, their documentation and ``fit``; its machinery is
:class:`~skkd.estimators._classification.ClassificationDistiller`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import torch

from skkd.estimators._base import BaseDistiller
from skkd.estimators._classification import ClassificationDistiller
from skkd.estimators._docs import shared_docs
from skkd.estimators._params import CLASSIFIER_PARAMETERS


@shared_docs
class DistilledClassifier(ClassificationDistiller):
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
    module : str, torch.nn.Module class or instance, default="auto"
        The student. ``"auto"``: ``"tabular-mlp"`` when ``X`` is a DataFrame
        the student encodes itself (see ``categorical_features``), ``"mlp"``
        for anything else. Any other string names a registered model (``skkd
        plugins`` lists them), built as ``factory(n_features, n_classes, **module__*)``;
        ``"tabular-mlp"`` (:class:`skkd.models.TabularMLP`) embeds numeric
        columns and category codes, for tables and tree teachers;
        a class is instantiated with the ``module__*`` parameters (and
        ``n_features`` / ``n_classes`` when its constructor takes them); an
        instance is deep-copied and trained from its current weights.
    %(categorical_features)s
    loss : str or callable, default="kl"
        The soft loss: a registered name (``"kl"``, ``"soft_ce"``, ``"mse"``
        built in) or a callable with the loss contract
        ``fn(student_logits, teacher_logits, *, temperature, y=None, **options)``
        returning a scalar tensor (a callable pickles with the estimator, so it
        also reaches worker processes). ``loss__*`` parameters reach it as
        keyword arguments; a name it does not accept fails at the start of ``fit``.
    alpha : float in [0, 1] or "auto", default="auto"
        Weight of the hard-label cross-entropy; ``1 - alpha`` weights the soft
        term. ``alpha=1`` is plain training: the teacher is then neither fitted
        nor queried. ``"auto"``: 0.1 for a tabular student (a ``tabular-mlp``,
        named or chosen by ``module="auto"``), 0.5 otherwise. Each ``"auto"``
        training setting (``alpha``, ``temperature``, ``lr``, ``lr_schedule``,
        ``max_epochs``, ``batch_size``) was chosen by measurement on validation
        rows: the tabular ones on six real tables against a default
        ``HistGradientBoostingClassifier``/``Regressor`` teacher
        (``benchmarks/results/zero_config_search*.md``), the others on digits,
        a synthetic task and flights (``benchmarks/results/defaults.md``); the
        Keras example's ``alpha=0.1, temperature=10`` had the largest loss of
        accuracy there. The values a fit used are the fitted ``net_``'s
        (``net_.alpha``, ``net_.lr``, ...). Tune them on a validation split
        for your task.
    temperature : float > 0 or "auto", default="auto"
        Softmax temperature ``T`` of the soft loss. ``"auto"``: 2 for a
        tabular student, 1 otherwise.
    %(training_params)s
    teacher_inference : {"once", "per_batch"}, default="once"
        ``"once"`` computes the teacher's logits for the whole training set in
        one batched pass before training; ``"per_batch"`` queries the teacher
        on every training batch, as the Keras example does, for inputs that
        change from epoch to epoch (augmentation).
    %(teacher_batch_size)s
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
    %(run_params)s
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
    %(n_features_in_)s
    %(columns_)s
    %(encoding_)s
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
    %(net_)s

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

    _parameter_table = {**BaseDistiller._parameter_table, **CLASSIFIER_PARAMETERS}

    def __init__(
        self,
        teacher: Any = None,
        *,
        module: Any = "auto",
        categorical_features: Any = "from_dtype",
        loss: str | Callable[..., Any] = "kl",
        alpha: float | str = "auto",
        temperature: float | str = "auto",
        optimizer: Any = torch.optim.Adam,
        lr: float | str = "auto",
        lr_schedule: str = "auto",
        max_epochs: int | str = "auto",
        batch_size: int | str = "auto",
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
        self.categorical_features = categorical_features
        self.loss = loss
        self.alpha = alpha
        self.temperature = temperature
        self.optimizer = optimizer
        self.lr = lr
        self.lr_schedule = lr_schedule
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

    @shared_docs
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
        %(fit_X)s
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
        %(fit_groups)s

        Returns
        -------
        self : DistilledClassifier
            The fitted estimator.
        """
        return self._fit(X, y, teacher_logits, sample_weight, groups)


if importlib.util.find_spec("skl2onnx") is not None:  # the "onnx" extra
    from skkd.export import register_converter

    register_converter(DistilledClassifier)
