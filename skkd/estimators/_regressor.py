"""``DistilledRegressor``: a regression model compressed into a small torch student.

The estimator's parameters, their documentation and ``fit``; its machinery is
:class:`~skkd.estimators._regression.RegressionDistiller`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import torch

from skkd.estimators._base import BaseDistiller
from skkd.estimators._docs import shared_docs
from skkd.estimators._params import REGRESSOR_PARAMETERS
from skkd.estimators._regression import RegressionDistiller


@shared_docs
class DistilledRegressor(RegressionDistiller):
    """Distill a fitted regression teacher into a small PyTorch student trained by skorch.

    The regression twin of :class:`~skkd.DistilledClassifier`, on the same
    machinery. The student minimizes

    ``alpha * mse(student, y) + (1 - alpha) * soft_loss(student, teacher)``

    on standardized targets: ``y`` (each output) and the teacher's
    predictions are centred and scaled by the labeled training rows' mean and
    standard deviation, and ``predict`` maps the student's outputs back, so no
    ``TransformedTargetRegressor`` is needed. ``alpha`` weights the
    *hard-label* term as in the classifier: ``alpha=1`` is plain training on
    ``y``, ``alpha=0`` pure distillation from the teacher's predictions.

    Parameters
    ----------
    teacher : object, list or EnsembleTeacher, default=None
        What predicts: a fitted scikit-learn regressor or ``Pipeline``
        (``predict``), a fitted skorch net (``predict``), a ``torch.nn.Module``
        returning ``(batch, n_outputs)``, a ``FrozenEstimator`` around one,
        anything a registered teacher adapter accepts (its outputs read as
        predictions in ``y``'s units, see
        :func:`skkd.hookspecs.skkd_register_teachers`); or several, as a
        list, tuple or :class:`~skkd.EnsembleTeacher` (a weighted mean of
        their predictions; nested ensembles are combined inside out).
        An *unfitted* scikit-learn regressor is cloned and fitted on the
        labeled rows (kept in ``teacher_``); a fitted one is never refitted,
        mutated or copied (also by ``clone`` and ``GridSearchCV``). None: no
        soft term (as ``alpha=1``) unless ``teacher_predictions`` is passed to
        ``fit``. All arguments after ``teacher`` are keyword-only.
    module : str, torch.nn.Module class or instance, default="auto"
        The student, as for the classifier (``"auto"``: ``"tabular-mlp"`` for a
        DataFrame the student encodes itself, ``"mlp"`` otherwise); a registered
        factory is called as
        ``factory(n_features, n_outputs, **module__*)`` (``"tabular-mlp"`` for
        tables and tree teachers).
    %(categorical_features)s
    loss : str or callable, default="mse"
        The soft loss between the student's and the teacher's standardized
        predictions: ``"mse"`` or ``"huber"`` (``loss__delta``), any
        registered loss that takes no ``temperature``, or a callable
        ``fn(student_outputs, teacher_outputs, *, y=None, sample_weight=None,
        **options)`` returning a scalar tensor.
    alpha : float in [0, 1] or "auto", default="auto"
        Weight of the hard-label mean squared error; ``1 - alpha`` weights
        the soft term. ``"auto"``: 0.1 for a tabular student (a
        ``tabular-mlp``, named or chosen by ``module="auto"``), 0.5 otherwise;
        the ``"auto"`` settings are the classifier's (see
        :class:`DistilledClassifier`), ``temperature`` aside.
    %(training_params)s
    %(teacher_batch_size)s
    teacher_cv : int, cross-validation splitter or None, default=None
        Out-of-fold predictions for an *unfitted* teacher (or ensemble
        member): each labeled row gets the prediction of a clone not fitted on
        it (``cross_val_predict``'s rule, an int is ``KFold``); the clone
        fitted on all labeled rows is ``teacher_``.
    unlabeled : None or float("nan"), default=None
        ``float("nan")`` (``np.nan``) marks rows whose target is NaN (every
        output) as unlabeled: they learn from the teacher alone and are ignored
        by ``score``. None: a NaN target is an error, as in scikit-learn.
    augment : str or None, default=None
        A transfer set (``"munge"``, with ``augment__*`` options, fresh per
        epoch with ``augment__fresh=True``): rows the teacher labels, soft
        term only. Batch augmentations (``"shift"``, ``"mixup"``) are for
        classifiers.
    %(run_params)s
    **kwargs
        ``module__*``, ``loss__*``, ``optimizer__*``, ``iterator_train__*``,
        ``iterator_valid__*``, ``callbacks__*`` and ``augment__*`` parameters.

    Attributes
    ----------
    %(n_features_in_)s
    %(columns_)s
    n_outputs_ : int
        Number of regression outputs (columns of ``y``).
    target_mean_, target_scale_ : ndarray of shape (n_outputs,)
        The standardization of the targets (float64, computed without
        overflow for ``|y|`` up to about ``1e304``): the student predicts
        ``(y - target_mean_) / target_scale_``. The teacher's predictions are
        kept in float64 until they are standardized the same way, so targets
        on a large offset (timestamps, amounts in cents near ``1e12``) keep
        their digits.
    %(encoding_)s
    teacher_ : object or None
        The teacher as queried (fitted clones for unfitted ones).
    teacher_score_ : float or None
        The teacher's R² on the labeled training rows (out of fold with
        ``teacher_cv``). Below 0, a :class:`~skkd.TeacherNearMeanWarning`
        says the teacher probably predicts in other units, or sees other
        features, than the student.
    teacher_scores_ : list of float or None
        Each ensemble member's R²; None for a single teacher.
    %(net_)s

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.ensemble import HistGradientBoostingRegressor
    >>> from skkd import DistilledRegressor
    >>> X, y = make_regression(500, 8, noise=5.0, random_state=0)
    >>> teacher = HistGradientBoostingRegressor(random_state=0).fit(X, y)
    >>> student = DistilledRegressor(teacher, alpha=0.2, max_epochs=30,
    ...                              random_state=0).fit(X, y)
    >>> student.predict(X[:2]).shape
    (2,)
    """

    _parameter_table = {**BaseDistiller._parameter_table, **REGRESSOR_PARAMETERS}

    def __init__(
        self,
        teacher: Any = None,
        *,
        module: Any = "auto",
        categorical_features: Any = "from_dtype",
        loss: str | Callable[..., Any] = "mse",
        alpha: float | str = "auto",
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
        teacher_batch_size: int | None = None,
        teacher_cv: Any = None,
        unlabeled: Any = None,
        augment: str | None = None,
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
        self.teacher_batch_size = teacher_batch_size
        self.teacher_cv = teacher_cv
        self.unlabeled = unlabeled
        self.augment = augment
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state
        self._keyword_params = dict(kwargs)

    @shared_docs
    def fit(self, X: Any, y: Any, teacher_predictions: Any = None, sample_weight: Any = None,
            groups: Any = None) -> DistilledRegressor:
        """Train the student on ``(X, y)`` and the teacher's predictions.

        A fit either completes or leaves a fitted estimator as it was (see
        :meth:`skkd.DistilledClassifier.fit`).

        Parameters
        ----------
        %(fit_X)s
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets. With ``unlabeled=float("nan")``, rows whose targets are
            all NaN are unlabeled (soft term only).
        teacher_predictions : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Precomputed teacher predictions in ``y``'s units (e.g. the
            teacher's ``predict`` on raw features while the student sits after
            a transformer in a ``Pipeline``; route it as
            ``distilledregressor__teacher_predictions``). The ``teacher`` is
            then not queried.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights of the hard and soft loss (and of an
            unfitted teacher's fit, where it takes them).
        %(fit_groups)s

        Returns
        -------
        self : DistilledRegressor
            The fitted estimator.
        """
        return self._fit(X, y, teacher_predictions, sample_weight, groups)


if importlib.util.find_spec("skl2onnx") is not None:  # the "onnx" extra
    from skkd.export import register_converter

    register_converter(DistilledRegressor)
