"""The parameters of skkd's estimators: what each accepts, table by table.

:data:`SHARED_PARAMETERS` describes the named parameters both estimators have;
:data:`CLASSIFIER_PARAMETERS` and :data:`REGRESSOR_PARAMETERS` what each adds
(each estimator composes its own table from them, as scikit-learn's forests
compose ``_parameter_constraints``). :data:`PREFIXES` names every family of
keyword parameters (``module__*`` ...). :func:`validate_parameters` checks
values against an estimator's table and raises
:class:`~skkd.exceptions.InvalidParameterError` naming the parameter and what
it accepts, before any data or teacher is touched.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback

from skkd.exceptions import InvalidParameterError
from skkd.training._accelerate import is_accelerator

#: A parameter's entry: (accepts(value), what is allowed, in words).
Entry = tuple[Callable[[Any], bool], str]


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _batch_size(value: Any) -> bool:
    return _integer(value) and (value >= 1 or value == -1)


def _callbacks(value: Any) -> bool:
    if value is None or value == "disable":
        return True
    if not isinstance(value, list | tuple):
        return False
    for item in value:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            item = item[1]
        ok = isinstance(item, Callback) or (isinstance(item, type) and issubclass(item, Callback))
        if not ok:
            return False
    return True


#: ``module="auto"``: ``"tabular-mlp"`` for a DataFrame the student encodes itself,
#: ``"mlp"`` for anything else.
AUTO_MODULE = "auto"


#: ``"auto"`` training settings, by the student they train: a ``tabular-mlp``
#: (chosen by ``module="auto"`` for a DataFrame, or named) and any other. The
#: tabular ones were chosen on the validation rows of six real tables
#: (``benchmarks/results/zero_config_search*.md``); the others on digits, a
#: synthetic task and flights (``benchmarks/results/defaults.md``).
AUTO = "auto"
AUTO_SETTINGS: dict[str, dict[str, Any]] = {
    "tabular": {"alpha": 0.1, "temperature": 2.0, "lr": 1e-2, "max_epochs": 30,
                "batch_size": 128, "lr_schedule": "cosine"},
    "other": {"alpha": 0.5, "temperature": 1.0, "lr": 1e-3, "max_epochs": 20,
              "batch_size": 32, "lr_schedule": "constant"},
}
#: The students that train with the tabular settings.
TABULAR_STUDENTS = ("tabular-mlp",)
#: The values of ``lr_schedule``.
LR_SCHEDULES = ("constant", "cosine")


def _auto(accepts: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``accepts``, or the string ``"auto"``."""
    return lambda v: (isinstance(v, str) and v == AUTO) or (
        not isinstance(v, str) and accepts(v))


def _module(value: Any) -> bool:
    return (
        isinstance(value, str | torch.nn.Module)
        or (isinstance(value, type) and issubclass(value, torch.nn.Module))
    )


def _hints(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, list | tuple) or not value:
        return False
    return all(isinstance(pair, list | tuple) and len(pair) == 2
               and all(isinstance(p, str) for p in pair) for pair in value)


def _categorical_features(value: Any) -> bool:
    """``"from_dtype"``, None, or a 1-D sequence of column names, indices or booleans."""
    if value is None or isinstance(value, str):
        return value is None or value == "from_dtype"
    if not isinstance(value, list | tuple | np.ndarray) or np.ndim(value) != 1:
        return False
    items = list(value)
    return (all(isinstance(v, str) for v in items)
            or all(isinstance(v, bool | np.bool_) for v in items)
            or all(_integer(v) for v in items))


def _random_state(value: Any) -> bool:
    return (
        value is None
        or (_integer(value) and 0 <= value < 2**32)
        or isinstance(value, np.random.RandomState)
    )


def _nan_marker(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


#: The temperatures the soft losses train with. Below, the soft term's gradient
#: (proportional to T) vanishes and the student learns nothing; above, even
#: float64 logits lose the differences between classes (the loss tends to logit
#: matching: use loss="mse" for that).
TEMPERATURE_RANGE = (1e-4, 1e4)

#: The parameters both estimators have.
SHARED_PARAMETERS: dict[str, Entry] = {
    "teacher": (lambda v: True, "a fitted or unfitted model, or None"),
    "module": (_module, "a registered model name, a torch.nn.Module subclass or instance"),
    "categorical_features": (_categorical_features,
                             "'from_dtype', None, or a list of column names, of column "
                             "indices, or a boolean mask with one entry per column"),
    "loss": (lambda v: isinstance(v, str) or callable(v),
             "a registered loss name or a callable "
             "fn(student_logits, teacher_logits, *, temperature, y=None, **options)"),
    "alpha": (_auto(lambda v: _real(v) and 0 <= v <= 1),
              "'auto' or a real number in [0, 1] (the weight of the hard-label loss)"),
    "optimizer": (lambda v: callable(v) and not isinstance(v, str),
                  "a torch optimizer class such as torch.optim.Adam"),
    "lr": (_auto(lambda v: _real(v) and math.isfinite(v) and v > 0),
           "'auto' or a finite real number > 0"),
    "lr_schedule": (lambda v: isinstance(v, str) and v in (AUTO, *LR_SCHEDULES),
                    "'auto', 'constant' or 'cosine'"),
    "max_epochs": (_auto(lambda v: _integer(v) and v >= 1), "'auto' or an integer >= 1"),
    "batch_size": (_auto(_batch_size),
                   "'auto', an integer >= 1, or -1 for one batch of all rows"),
    "callbacks": (_callbacks,
                  "None, 'disable', or a list of skorch callbacks (instances, classes "
                  "or (name, callback) pairs)"),
    "device": (lambda v: v is None or isinstance(v, str | torch.device),
               "a torch device such as 'cpu' or 'cuda', or None"),
    "mixed_precision": (lambda v: v is None or v in ("bf16", "fp16"),
                        "None, 'bf16' or 'fp16' (torch.autocast of the student's training "
                        "passes)"),
    "accelerator": (lambda v: v is None or is_accelerator(v),
                    "None or an accelerate.Accelerator (for torchrun-launched ranks)"),
    "train_split": (lambda v: v is None or callable(v),
                    "None or a callable such as skorch.dataset.ValidSplit(0.2)"),
    "teacher_batch_size": (lambda v: v is None or _batch_size(v),
                           "None, an integer >= 1, or -1 for one batch of all rows"),
    "augment": (lambda v: v is None or isinstance(v, str),
                "None or the name of a registered augmentation ('munge', 'shift', 'mixup')"),
    "teacher_cv": (lambda v: v is None or (_integer(v) and v >= 2) or hasattr(v, "split"),
                   "None, an integer >= 2 or a cross-validation splitter"),
    "warm_start": (lambda v: isinstance(v, bool | np.bool_), "True or False"),
    "verbose": (lambda v: isinstance(v, numbers.Integral) and v >= 0, "an integer >= 0"),
    "random_state": (_random_state,
                     "None, an integer in [0, 2**32) or a numpy.random.RandomState"),
}

#: The parameters only ``DistilledClassifier`` has.
CLASSIFIER_PARAMETERS: dict[str, Entry] = {
    "temperature": (_auto(lambda v: _real(v)
                          and TEMPERATURE_RANGE[0] <= v <= TEMPERATURE_RANGE[1]),
                    f"'auto' or a real number in [{TEMPERATURE_RANGE[0]:g}, "
                    f"{TEMPERATURE_RANGE[1]:g}]: "
                    "below, the soft term's gradient vanishes; above, the classes' logits "
                    "become indistinguishable (for logit matching use loss='mse')"),
    "teacher_inference": (lambda v: v in ("once", "per_batch"), "'once' or 'per_batch'"),
    "teacher_combine": (lambda v: v in ("proba", "logits"), "'proba' or 'logits'"),
    "class_weight": (lambda v: v is None or (isinstance(v, str) and v == "balanced")
                     or isinstance(v, Mapping),
                     "None, 'balanced' or a dict {label: weight} in y's labels"),
    "unlabeled": (lambda v: v is None or isinstance(v, str) or (_real(v) and not (
        isinstance(v, float) and math.isnan(v))), "None, a number or a string"),
    "hints": (_hints, "None or a non-empty list of (student path, teacher path) pairs of "
              "module names from named_modules()"),
    "hint_loss": (lambda v: isinstance(v, str) or callable(v),
                  "a registered hint loss name ('fitnets', 'at') or a callable "
                  "fn(student_feature, teacher_feature, **options)"),
    "hint_weight": (lambda v: _real(v) and math.isfinite(v) and v >= 0,
                    "a finite real number >= 0"),
}

#: The parameters ``DistilledRegressor`` reads its own way.
REGRESSOR_PARAMETERS: dict[str, Entry] = {
    "unlabeled": (_nan_marker, "None or float('nan') (NaN targets mark unlabeled rows)"),
}

#: Keyword-parameter families: prefix -> what receives them.
PREFIXES: dict[str, str] = {
    "module__": "the student module (or its registered factory)",
    "loss__": "the soft loss",
    "augment__": "the augmentation",
    "hint_loss__": "the hint (feature-distillation) loss",
    "criterion__": "the hard-label loss, torch.nn.CrossEntropyLoss (weight, label_smoothing)",
    "optimizer__": "the optimizer",
    "iterator_train__": "the training DataLoader",
    "iterator_valid__": "the prediction/validation DataLoader",
    "callbacks__": "the skorch callbacks",
}

#: The prefixes skorch receives unchanged.
SKORCH_PREFIXES = ("criterion__", "optimizer__", "iterator_train__", "iterator_valid__",
                   "callbacks__")


def validate_parameters(params: Mapping[str, Any], owner: str,
                        table: Mapping[str, Entry]) -> None:
    """Check parameter values against an estimator's ``table`` and :data:`PREFIXES`.

    Names outside the table must start with a known prefix.

    Parameters
    ----------
    params : mapping
        The estimator's ``get_params(deep=False)``.
    owner : str
        The estimator's class name, for messages.
    table : mapping
        Its parameter table (``_parameter_table``): name -> (accepts, allowed).

    Raises
    ------
    InvalidParameterError
        Naming the first offending parameter, its value and what is allowed.
    """
    for name, value in params.items():
        if name in table:
            accepts, allowed = table[name]
            if not accepts(value):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead."
                )
        elif not name.startswith(tuple(PREFIXES)):
            raise InvalidParameterError(
                f"Unknown parameter {name!r} for {owner}; keyword parameters must start with "
                f"one of {', '.join(PREFIXES)}."
            )


def named_or_callable(param: str, value: Any, lookup: Callable[[str], Callable[..., Any]]
                      ) -> tuple[Callable[..., Any], str]:
    """``(function, name)`` of a parameter that is a registered name or a callable."""
    if not isinstance(value, str):
        return value, getattr(value, "__name__", repr(value))
    try:
        return lookup(value), value
    except ValueError as exc:
        raise InvalidParameterError(f"{param}={value!r}: {exc}") from exc


def class_weights(weight: Any, classes: np.ndarray, name: str = "criterion__weight", *,
                  y_enc: np.ndarray | None = None,
                  sample_weight: np.ndarray | None = None) -> np.ndarray:
    """One weight per class of ``classes`` (``classes_`` order), as scikit-learn reads them.

    Parameters
    ----------
    weight : None, "balanced", dict, array-like or torch.Tensor
        None: every class weighs 1. ``"balanced"`` (``class_weight`` only):
        ``n_samples / (n_classes * count(c))``, counts weighted by
        ``sample_weight``, as ``sklearn.utils.class_weight.compute_class_weight``.
        A dict ``{label: weight}`` in ``y``'s labels: an unnamed class weighs 1;
        labels that are not classes of ``y`` (a cross-validation fold without
        them) are ignored when every class of ``y`` has a weight. A sequence:
        one weight per class, in ``classes_`` order.
    classes : ndarray
        The student's sorted classes.
    name : str, default="criterion__weight"
        The parameter, for messages.
    y_enc : ndarray of int or None, default=None
        The labeled rows' encoded labels (``"balanced"``).
    sample_weight : ndarray or None, default=None
        Their weights (``"balanced"``).

    Returns
    -------
    ndarray of shape (n_classes,), float32

    Raises
    ------
    InvalidParameterError
        Naming ``name``: a weight that is negative or not finite, a sequence
        of the wrong length, or dict keys that are not ``y``'s labels.
    """
    labels = classes.tolist()
    if weight is None:
        values = np.ones(len(labels))
    elif isinstance(weight, str):
        if weight != "balanced" or name != "class_weight":
            raise InvalidParameterError(
                f"{name}={weight!r}: pass one weight per class (classes {labels}) or a dict "
                "{label: weight}; for weights inversely proportional to the class counts, "
                "class_weight='balanced'.")
        counts = np.bincount(y_enc, weights=sample_weight, minlength=len(labels))
        with np.errstate(divide="ignore"):  # a class whose rows all weigh 0 weighs 0
            values = np.where(counts > 0, counts.sum() / (len(labels) * counts), 0.0)
    elif isinstance(weight, Mapping):
        values = np.array([weight.get(c, 1.0) for c in labels], dtype=object)
        unnamed = [c for c in labels if c not in weight]
        extra = [k for k in weight if k not in set(labels)]
        if extra and unnamed:
            raise InvalidParameterError(
                f"{name} names {extra}, which are not classes of y, and not the classes "
                f"{unnamed}: key the weights by y's labels {labels}, e.g. "
                f"{{{labels[0]!r}: 1.0, {labels[-1]!r}: 2.0}}."
            )
    else:
        values = weight.detach().cpu().numpy() if isinstance(weight, torch.Tensor) else weight
        values = np.asarray(values, dtype=object)
        if values.shape != (len(labels),):
            raise InvalidParameterError(
                f"{name} has shape {values.shape}; it needs one weight per class "
                f"({len(labels)}), in classes_ order ({labels}), or a dict {{label: weight}}."
            )
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{name}: the weights must be numbers ({exc}).") from exc
    if not np.isfinite(values).all() or (values < 0).any():
        raise InvalidParameterError(
            f"{name}: the weights {values.tolist()} (classes {labels}) must be finite and >= 0."
        )
    return values.astype(np.float32)


def check_callbacks_need_no_split(callbacks: Any, train_split: Any) -> None:
    """A callback monitoring ``valid_*`` needs ``train_split``; say so before training."""
    if train_split is not None or not isinstance(callbacks, list | tuple):
        return
    for item in callbacks:
        callback = item[1] if isinstance(item, tuple) else item
        monitor = getattr(callback, "monitor", None)
        if isinstance(monitor, str) and monitor.startswith("valid_"):
            raise InvalidParameterError(
                f"callbacks: {type(callback).__name__} monitors {monitor!r}, which needs a "
                "validation split, but train_split=None. Set "
                "train_split=skorch.dataset.ValidSplit(0.2), or monitor a training score "
                "(e.g. monitor='train_loss')."
            )
