"""``DistilledClassifier``: knowledge distillation with a scikit-learn face."""

from __future__ import annotations

import copy
import numbers
import warnings
from functools import partial
from typing import Any

import numpy as np
import torch
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from skkd import plugins
from skkd.net import INPUT_KEY, TEACHER_KEY, ArrayDataset, BatchLoader, DistillationNet
from skkd.teachers import Teacher, as_teacher, is_unfitted_estimator

#: Prefixes of the keyword parameters forwarded to skorch / the factories.
PARAM_PREFIXES = (
    "module__",
    "loss__",
    "optimizer__",
    "iterator_train__",
    "iterator_valid__",
    "callbacks__",
)
_TEACHER_INFERENCE = ("once", "per_batch")
#: With teacher_inference="per_batch", teacher_score_ is measured on these first rows.
_PROBE_ROWS = 1024


class TeacherNearChanceWarning(UserWarning):
    """The teacher's accuracy on the training data is close to chance level."""


class DistilledClassifier(ClassifierMixin, BaseEstimator):
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
    teacher : object, default=None
        Source of soft labels: a fitted ``torch.nn.Module`` returning logits, a
        fitted skorch net, a fitted scikit-learn classifier or ``Pipeline`` with
        ``predict_proba`` or ``decision_function``, a
        ``sklearn.frozen.FrozenEstimator`` around any of them, or anything a
        teacher plugin accepts. An *unfitted* scikit-learn classifier is cloned
        and fitted on ``(X, y)`` in ``fit`` (kept as ``teacher_``). A fitted
        teacher is never refitted, mutated or copied, not even by ``clone`` or
        ``GridSearchCV``. ``None`` means no soft term (the same as ``alpha=1``)
        unless ``teacher_logits`` is passed to ``fit``. A teacher without
        ``classes_`` must output one column per class, in sorted label order.
    module : str, torch.nn.Module class or instance, default="mlp"
        The student. A string names a registered model (``skkd plugins``
        lists them), built as ``factory(n_features, n_classes, **module__*)``;
        a class is instantiated with the ``module__*`` parameters; an
        instance is deep-copied and trained from its current weights.
    loss : str, default="kl"
        Registered name of the soft loss (``"kl"``, ``"soft_ce"``, ``"mse"``
        built in). ``loss__*`` parameters reach it as keyword arguments.
    alpha : float in [0, 1], default=0.1
        Weight of the hard-label cross-entropy; ``1 - alpha`` weights the soft term.
    temperature : float > 0, default=10.0
        Softmax temperature ``T`` of the soft loss.
    optimizer : torch optimizer class, default=torch.optim.Adam
        ``optimizer__*`` parameters reach it.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=20
        Number of epochs.
    batch_size : int, default=32
        Mini-batch size for training and prediction.
    callbacks : list of skorch callbacks, default=None
        Passed to skorch.
    device : str, default="cpu"
        Torch device of the student. A torch teacher runs where its
        parameters are; nothing moves it.
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
    verbose : int, default=0
        skorch's verbosity (1 prints a table per epoch).
    random_state : int, RandomState instance or None, default=None
        Seeds the student's initialization and shuffling; torch's global
        random state is restored afterwards.
    **kwargs
        ``module__*``, ``loss__*``, ``optimizer__*``, ``iterator_train__*``,
        ``iterator_valid__*`` and ``callbacks__*`` parameters, as in skorch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, in the order of the student's outputs.
    n_features_in_ : int
        Number of features seen in ``fit``.
    teacher_ : object or None
        The teacher queried in ``fit`` (the fitted clone for an unfitted one).
    teacher_score_ : float or None
        The teacher's accuracy on the training data, as the teacher saw it
        (on the first 1,024 rows with ``teacher_inference="per_batch"``).
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
        module: Any = "mlp",
        loss: str = "kl",
        alpha: float = 0.1,
        temperature: float = 10.0,
        optimizer: Any = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 20,
        batch_size: int = 32,
        callbacks: Any = None,
        device: str = "cpu",
        train_split: Any = None,
        teacher_inference: str = "once",
        teacher_batch_size: int | None = None,
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
        self.train_split = train_split
        self.teacher_inference = teacher_inference
        self.teacher_batch_size = teacher_batch_size
        self.verbose = verbose
        self.random_state = random_state
        for key, value in kwargs.items():
            setattr(self, key, value)

    # -- parameters -------------------------------------------------------

    def _prefixed_params(self) -> dict[str, Any]:
        """The keyword parameters given beyond the signature (``module__*`` etc.)."""
        named = self._get_param_names()
        return {
            k: v for k, v in vars(self).items()
            if k not in named and not k.startswith("_") and not k.endswith("_")
        }

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = super().get_params(deep=deep)
        params.update(self._prefixed_params())
        return params

    def set_params(self, **params: Any) -> DistilledClassifier:
        plain = {}
        extra = self._prefixed_params()
        for key, value in params.items():
            if key.startswith(PARAM_PREFIXES) or key in extra:
                setattr(self, key, value)
            else:
                plain[key] = value
        return super().set_params(**plain) if plain else self

    def __sklearn_clone__(self) -> DistilledClassifier:
        params = self.get_params(deep=False)
        teacher = params.pop("teacher")
        # A fitted teacher is shared, never copied: clone() would unfit a
        # scikit-learn model and deep-copy a torch module per candidate.
        if is_unfitted_estimator(teacher):
            teacher = clone(teacher)
        return type(self)(teacher=teacher, **{k: clone(v, safe=False) for k, v in params.items()})

    def _params_with(self, prefix: str) -> dict[str, Any]:
        params = self._prefixed_params()
        return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}

    def _validate_params(self) -> None:
        unknown = [k for k in self._prefixed_params() if not k.startswith(PARAM_PREFIXES)]
        if unknown:
            raise ValueError(
                f"Unknown parameter(s) {unknown} for DistilledClassifier; keyword parameters "
                f"must start with one of {', '.join(PARAM_PREFIXES)}."
            )
        if not isinstance(self.alpha, numbers.Real) or not 0 <= self.alpha <= 1:
            raise ValueError(
                f"alpha must be a number in [0, 1] (the weight of the hard-label loss), "
                f"got {self.alpha!r}."
            )
        if not isinstance(self.temperature, numbers.Real) or not self.temperature > 0:
            raise ValueError(f"temperature must be a number > 0, got {self.temperature!r}.")
        if self.teacher_inference not in _TEACHER_INFERENCE:
            raise ValueError(
                f"teacher_inference must be one of {_TEACHER_INFERENCE}, "
                f"got {self.teacher_inference!r}."
            )
        if not isinstance(self.loss, str):
            raise ValueError(f"loss must be the name of a registered loss, got {self.loss!r}.")

    # -- fitting ----------------------------------------------------------

    def fit(self, X: Any, y: Any, teacher_logits: Any = None) -> DistilledClassifier:
        """Train the student on ``(X, y)`` and the teacher's soft labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows; the teacher is queried on the same rows.
        y : array-like of shape (n_samples,)
            Class labels (any hashable labels: ints, strings, ...).
        teacher_logits : array-like of shape (n_samples, n_classes), default=None
            Precomputed teacher outputs, columns in sorted label order
            (``classes_``); log-probabilities are valid logits. Use it when the
            teacher must see other inputs than the student, e.g. raw features
            while the student sits after a transformer in a ``Pipeline``
            (route it as ``distilledclassifier__teacher_logits``). The
            ``teacher`` is then not queried.

        Returns
        -------
        self : DistilledClassifier
        """
        self._validate_params()
        try:
            soft_loss = plugins.get_loss(self.loss)
        except ValueError as exc:
            raise ValueError(f"loss={self.loss!r}: {exc}") from exc
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[0]!r}); DistilledClassifier needs "
                "at least two classes."
            )
        y_enc = encoder.transform(y).astype(np.int64)
        n_classes = len(self.classes_)

        online_teacher: Teacher | None = None
        self.teacher_ = self.teacher
        if teacher_logits is not None:
            teacher_logits = self._check_teacher_logits(teacher_logits, len(X), n_classes)
        elif self.teacher is not None:
            if is_unfitted_estimator(self.teacher):
                self.teacher_ = clone(self.teacher).fit(X, y)
            adapter = _AlignedTeacher(as_teacher(self.teacher_), self.classes_)
            teacher_batch_size = self.teacher_batch_size or self.batch_size
            if self.teacher_inference == "once":
                teacher_logits = adapter.logits(X, batch_size=teacher_batch_size)
            else:
                online_teacher = adapter
                probe = adapter.logits(X[:_PROBE_ROWS], teacher_batch_size)
                self.teacher_score_ = _accuracy(probe, y_enc[: len(probe)])

        if teacher_logits is not None:
            self.teacher_score_ = _accuracy(teacher_logits, y_enc)
        elif online_teacher is None:
            self.teacher_score_ = None
        if self.teacher_score_ is not None:
            _warn_if_near_chance(self.teacher_score_, y_enc, n_classes)

        net = self._build_net(X.shape[1], n_classes, soft_loss)
        net.online_teacher = online_teacher
        X_fit: Any = X if teacher_logits is None else {INPUT_KEY: X, TEACHER_KEY: teacher_logits}
        try:
            with _seeded(self.random_state, self.device):
                net.fit(X_fit, y_enc)
        finally:
            net.online_teacher = None
        self.net_ = net
        self.history_ = net.history
        return self

    def _check_teacher_logits(self, logits: Any, n_samples: int, n_classes: int) -> np.ndarray:
        logits = np.asarray(logits, dtype=np.float32)
        if logits.shape != (n_samples, n_classes):
            raise ValueError(
                f"teacher_logits has shape {logits.shape}, expected ({n_samples}, {n_classes}): "
                "one row per sample of X and one column per class, in classes_ order."
            )
        if not np.isfinite(logits).all():
            raise ValueError(
                "teacher_logits contains NaN or infinity; clip probabilities before taking "
                "their log."
            )
        return logits

    def _build_module(self, n_features: int, n_classes: int) -> tuple[Any, dict[str, Any]]:
        module_kwargs = self._params_with("module__")
        if isinstance(self.module, str):
            try:
                factory = plugins.get_model(self.module)
            except ValueError as exc:
                raise ValueError(f"module={self.module!r}: {exc}") from exc
            return partial(factory, n_features, n_classes), module_kwargs
        if isinstance(self.module, torch.nn.Module):
            if module_kwargs:
                raise ValueError(
                    f"module is an instance, so module__* parameters {sorted(module_kwargs)} "
                    "cannot reach it; pass the class instead."
                )
            return copy.deepcopy(self.module), {}
        if isinstance(self.module, type) and issubclass(self.module, torch.nn.Module):
            return self.module, module_kwargs
        raise ValueError(
            "module must be a registered model name, a torch.nn.Module class or an "
            f"instance, got {self.module!r}."
        )

    def _build_net(self, n_features: int, n_classes: int, soft_loss: Any) -> DistillationNet:
        module, module_kwargs = self._build_module(n_features, n_classes)
        forwarded = {
            "iterator_train__shuffle": True,
            **{k: v for k, v in self._prefixed_params().items()
               if k.startswith(("optimizer__", "iterator_train__", "iterator_valid__",
                                "callbacks__"))},
            **{f"module__{k}": v for k, v in module_kwargs.items()},
        }
        return DistillationNet(
            module=module,
            alpha=self.alpha,
            temperature=self.temperature,
            soft_loss=soft_loss,
            loss_name=self.loss,
            loss_options=self._params_with("loss__"),
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchLoader,
            iterator_valid=BatchLoader,
            dataset=ArrayDataset,
            train_split=self.train_split,
            callbacks=self.callbacks,
            predict_nonlinearity=None,
            verbose=self.verbose,
            device=self.device,
            **forwarded,
        )

    # -- prediction -------------------------------------------------------

    def _student_logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return self.net_.forward(X, training=False, device="cpu").numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: the softmax of the student's logits.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), columns in ``classes_`` order.
        """
        return softmax(self._student_logits(X).astype(np.float64), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels, in the labels seen in ``fit``."""
        logits = self._student_logits(X)
        return self.classes_[np.argmax(logits, axis=1)]


class _AlignedTeacher(Teacher):
    """A teacher whose output columns are reordered to the student's ``classes_``."""

    def __init__(self, teacher: Teacher, classes: np.ndarray) -> None:
        super().__init__(teacher.model, classes)
        self.teacher = teacher
        self.columns: np.ndarray | None = None
        if teacher.classes_ is not None:
            teacher_classes = list(teacher.classes_)
            if set(teacher_classes) != set(classes.tolist()):
                raise ValueError(
                    f"The teacher's classes_ {teacher_classes} differ from the classes in y "
                    f"{classes.tolist()}; fit the teacher on the same labels or pass "
                    "teacher_logits with one column per class of y."
                )
            self.columns = np.array([teacher_classes.index(c) for c in classes.tolist()])

    def _check_width(self, width: int) -> None:
        expected = len(self.classes_)
        if width == expected or (width == 1 and expected == 2):
            return
        raise ValueError(
            f"The teacher outputs {width} columns but y has {expected} classes "
            f"{self.classes_.tolist()}; the teacher must output one logit per class."
        )

    def _align(self, out: Any) -> Any:
        self._check_width(out.shape[1])
        if out.shape[1] == 1:  # a single binary logit z means the logits (0, z)
            out = (torch.cat if isinstance(out, torch.Tensor) else np.hstack)([out * 0, out], 1)
        return out if self.columns is None else out[:, self.columns]

    def logits(self, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        return np.ascontiguousarray(self._align(self.teacher.logits(X, batch_size)), np.float32)

    def batch_logits(self, xb: torch.Tensor) -> torch.Tensor:
        return self._align(self.teacher.batch_logits(xb))


def _accuracy(logits: np.ndarray, y_enc: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == y_enc)) if len(y_enc) else float("nan")


def _warn_if_near_chance(score: float, y_enc: np.ndarray, n_classes: int) -> None:
    chance = np.bincount(y_enc, minlength=n_classes).max() / len(y_enc)
    if score < chance + 0.25 * (1 - chance):
        warnings.warn(
            f"The teacher's accuracy on the training data is {score:.3f}, near chance level "
            f"({chance:.3f}). It probably receives features it was not trained on, e.g. after "
            "a transformer in a Pipeline: fit the teacher on the same features, or pass its "
            "outputs on its own inputs as fit(..., teacher_logits=...) "
            "(distilledclassifier__teacher_logits in a Pipeline).",
            TeacherNearChanceWarning,
            stacklevel=3,
        )


class _seeded:  # noqa: N801 - a context manager used like a function
    """Seed torch for one fit and restore the global random state afterwards."""

    def __init__(self, random_state: Any, device: Any) -> None:
        self.seed = (
            None if random_state is None
            else int(check_random_state(random_state).randint(2**31 - 1))
        )
        cuda = str(device).startswith("cuda") and torch.cuda.is_available()
        self.devices = list(range(torch.cuda.device_count())) if cuda else []
        self._fork: Any = None

    def __enter__(self) -> None:
        if self.seed is not None:
            self._fork = torch.random.fork_rng(devices=self.devices)
            self._fork.__enter__()
            torch.manual_seed(self.seed)

    def __exit__(self, *exc: Any) -> None:
        if self._fork is not None:
            self._fork.__exit__(*exc)
