"""What every skkd estimator shares: parameters, the fit transaction, the net, shipping.

:class:`BaseDistiller` holds the machinery of :class:`skkd.DistilledClassifier`
and :class:`skkd.DistilledRegressor` (as scikit-learn's ``BaseForest`` does for
its classifier and regressor): parameter handling and checks, the fit that
either completes or leaves the estimator as it was, transfer sets, the teacher
step's place in it, the skorch net, ``without_teacher``. What differs by task
(targets, the teacher's outputs, the hard loss, prediction) is a handful of
hook methods each estimator defines.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from skkd._options import check_options, shape_arguments
from skkd._seeding import RandomState, forked_cpu_rng
from skkd.augmentations._fit_time import (
    FreshTransferSet,
    add_transfer_set,
    build_augmentation,
    check_batch_augmentation,
    kind_of,
)
from skkd.estimators._params import (
    PREFIXES,
    SKORCH_PREFIXES,
    check_callbacks_need_no_split,
    validate_parameters,
)
from skkd.exceptions import InvalidParameterError
from skkd.hints._plan import (
    HINT_CACHE_BYTES,
    HintPlan,
    capture_features,
    probe_shapes,
    resolve_modules,
    torch_teacher_module,
)
from skkd.plugins import get_hint_loss, get_loss, get_model
from skkd.teachers._adapters import TorchTeacher
from skkd.teachers._classification import TeacherOutputs, is_unfitted_estimator, share_or_clone
from skkd.training._accelerate import accelerator_device, print_on_rank_0
from skkd.training._net import (
    HINT_KEY,
    INPUT_KEY,
    TEACHER_KEY,
    WEIGHT_KEY,
    ArrayDataset,
    BatchLoader,
    DistillationNet,
)


def _named_or_callable(
    param: str, value: Any, lookup: Callable[[str], Callable[..., Any]]
) -> tuple[Callable[..., Any], str]:
    """``(function, name)`` of a parameter that is a registered name or a callable."""
    if not isinstance(value, str):
        return value, getattr(value, "__name__", repr(value))
    try:
        return lookup(value), value
    except ValueError as exc:
        raise InvalidParameterError(f"{param}={value!r}: {exc}") from exc


def _same(a: Any, b: Any) -> bool:
    """Whether two parameter values are equal (arrays and tensors elementwise)."""
    if a is b:
        return True
    try:
        equal = a == b
        if isinstance(equal, bool | np.bool_) and equal:
            return True
        # sequences of either kind ([8] and (8,)), arrays and tensors elementwise
        return (isinstance(a, list | tuple | np.ndarray | torch.Tensor)
                and bool(np.array_equal(np.asarray(a), np.asarray(b))))
    except Exception:  # values that cannot be compared are not the same
        return False


def _takes_keyword(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` accepts the keyword argument ``name`` (or any, through ``**kwargs``)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is p.VAR_KEYWORD or (p.name == name and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)) for p in parameters)

#: Row dtypes ``predict`` accepts without scikit-learn's validation overhead.
_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class BaseDistiller(BaseEstimator):
    """The machinery of skkd's estimators; use a subclass.

    Subclasses define ``__init__`` (scikit-learn reads the parameters from
    it; each stores ``self._keyword_params = dict(kwargs)``), ``fit`` (which
    calls :meth:`_fit`), prediction, and the hook methods below.
    """

    # -- what each task defines ------------------------------------------

    #: The hard-label loss, whose ``criterion__*`` options are checked.
    _hard_loss_class: type = torch.nn.CrossEntropyLoss
    #: The skorch net that trains the student.
    _net_class: type = DistillationNet
    #: The name of ``fit``'s precomputed teacher outputs, for messages.
    _outputs_param = "teacher_logits"
    #: Entries of ``skkd.estimators._params.PARAMETERS`` this estimator reads otherwise.
    _parameter_overrides: dict[str, Any] = {}

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        """``X`` as float32 rows and ``y`` checked (sets ``n_features_in_`` when ``reset``)."""
        raise NotImplementedError

    def _encode_targets(self, y: np.ndarray, continuing: bool,
                        sample_weight: np.ndarray | None) -> np.ndarray:
        """The targets the net trains on; sets the fitted attributes that decode them."""
        raise NotImplementedError

    def _labeled(self, y_enc: np.ndarray) -> np.ndarray:
        """Which rows of the encoded targets have a label."""
        raise NotImplementedError

    def _n_outputs(self) -> int:
        """The width of the student's output (classes, or regression outputs)."""
        raise NotImplementedError

    def _given_outputs(self, outputs: Any, y: np.ndarray, y_enc: np.ndarray) -> TeacherOutputs:
        """``fit``'s precomputed teacher outputs, checked and scored."""
        raise NotImplementedError

    def _queried_outputs(self, X_teacher: Any, y: np.ndarray, y_enc: np.ndarray,
                         inference: str, *, sample_weight: Any,
                         groups: Any) -> TeacherOutputs:
        """The teacher's outputs: unfitted teachers' clones fitted, then queried and scored."""
        raise NotImplementedError

    def _trained_outputs(self, outputs: TeacherOutputs, y_enc: np.ndarray) -> TeacherOutputs:
        """The teacher's outputs as the student trains on them (checked, rescaled)."""
        return outputs

    def _teacher_step(self, X_teacher: Any, y: np.ndarray, y_enc: np.ndarray,
                      teacher_logits: Any, inference: str, *, sample_weight: Any = None,
                      groups: Any = None) -> TeacherOutputs | None:
        """Fit unfitted teachers' clones and compute the teacher's outputs, if needed.

        Sets ``teacher_``, ``teacher_score_`` and ``teacher_scores_``.
        """
        self.teacher_ = None
        self.teacher_score_ = None
        self.teacher_scores_ = None
        if self.alpha == 1 or (teacher_logits is None and self.teacher is None):
            return None  # no soft term: the teacher is neither fitted nor queried
        if teacher_logits is not None:
            outputs = self._given_outputs(teacher_logits, y, y_enc)
        else:
            outputs = self._queried_outputs(X_teacher, y, y_enc, inference,
                                            sample_weight=sample_weight, groups=groups)
            self.teacher_ = outputs.fitted
            self.teacher_scores_ = outputs.member_scores
        self.teacher_score_ = outputs.score
        return self._trained_outputs(outputs, y_enc)

    def _label_fresh(self, fresh: FreshTransferSet,
                     outputs: TeacherOutputs | None) -> FreshTransferSet:
        """Have the teacher label every epoch's fresh transfer rows."""
        raise NotImplementedError

    def _soft_loss_params(self) -> dict[str, Any]:
        """The net's task parameters besides ``alpha`` (``temperature``; a regressor's
        target standardization)."""
        return {"temperature": None}

    def _check_loss(self, soft_loss: Callable[..., Any], loss_name: str) -> None:
        """Refuse a soft loss this estimator cannot call."""

    def _check_hard_loss(self) -> None:
        """Try the hard-label loss with its ``criterion__*`` options on a dummy batch."""

    def _criterion_options(self, forwarded: dict[str, Any], n_outputs: int) -> dict[str, Any]:
        """The skorch keyword parameters, the criterion's made ready for the net."""
        return forwarded

    def _student_weights(self, weights: np.ndarray | None,
                         y_enc: np.ndarray) -> np.ndarray | None:
        """The row weights of the student's loss (``weights``: the checked ``sample_weight``)."""
        return weights

    # -- parameters -------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = super().get_params(deep=deep)
        if deep and not is_unfitted_estimator(self.teacher):
            # A fitted teacher is shared by every clone: its parameters are not ours to set.
            params = {k: v for k, v in params.items() if not k.startswith("teacher__")}
        params.update(self._keyword_params)
        return params

    def set_params(self, **params: Any) -> BaseDistiller:
        plain = {}
        for key, value in params.items():
            if key.startswith(tuple(PREFIXES)):
                self._keyword_params[key] = value
            elif key.startswith("teacher__") and not is_unfitted_estimator(self.teacher):
                raise InvalidParameterError(
                    f"Cannot set {key!r}: the teacher is fitted and shared, never modified. "
                    "Fit the teacher with the parameters you want, or pass an unfitted "
                    "teacher (DistilledClassifier then fits a clone of it)."
                )
            else:
                plain[key] = value
        return super().set_params(**plain)

    def __sklearn_clone__(self) -> BaseDistiller:
        params = self.get_params(deep=False)
        teacher = params.pop("teacher")
        # A fitted teacher is shared, never copied: clone() would unfit a
        # scikit-learn model and deep-copy a torch module per candidate.
        teacher = share_or_clone(teacher)
        # the accelerator stands for this process's place among the ranks: shared too
        cloned = type(self)(teacher, **{k: v if k == "accelerator" else clone(v, safe=False)
                                        for k, v in params.items()})
        if hasattr(self, "_metadata_request"):  # set_fit_request(teacher_logits=True)
            cloned._metadata_request = copy.deepcopy(self._metadata_request)
        return cloned

    def _params_with(self, prefix: str) -> dict[str, Any]:
        return {
            k[len(prefix) :]: v for k, v in self._keyword_params.items() if k.startswith(prefix)
        }

    def _check_params(self) -> tuple[Callable[..., Any], str, Any, HintPlan | None]:
        """Validate every parameter before any data or teacher is touched."""
        unknown = sorted(k for k in self._keyword_params if not k.startswith(tuple(PREFIXES)))
        if unknown:  # e.g. a classifier's temperature given to the regressor
            raise InvalidParameterError(
                f"Unknown parameter {unknown[0]!r} for {type(self).__name__}; keyword "
                f"parameters must start with one of {', '.join(PREFIXES)} (its other "
                f"parameters: {', '.join(self._get_param_names())})."
            )
        validate_parameters(self.get_params(deep=False), type(self).__name__,
                            self._parameter_overrides)
        check_callbacks_need_no_split(self.callbacks, self.train_split)
        soft_loss, loss_name = _named_or_callable("loss", self.loss, get_loss)
        check_options("loss__", self._params_with("loss__"), soft_loss, f"loss {loss_name!r}",
                      skip=2, reserved=("temperature", "y", "sample_weight"))
        self._check_loss(soft_loss, loss_name)
        check_options("criterion__", self._params_with("criterion__"), self._hard_loss_class,
                      f"the hard-label loss torch.nn.{self._hard_loss_class.__name__}")
        self._module_factory()
        augmentation = build_augmentation(self.augment, self._params_with("augment__"))
        return soft_loss, loss_name, augmentation, self._hint_plan()

    def _hint_plan(self) -> HintPlan | None:
        """The hints' loss, options and torch teacher, checked; None without hints."""
        options = self._params_with("hint_loss__")
        if getattr(self, "hints", None) is None:
            if options:
                raise InvalidParameterError(
                    f"hint_loss__* parameters {sorted(options)} are set but hints=None; "
                    "name (student path, teacher path) pairs in hints."
                )
            return None
        fn, name = _named_or_callable("hint_loss", self.hint_loss, get_hint_loss)
        check_options("hint_loss__", options, fn, f"hint loss {name!r}", skip=2)
        module = torch_teacher_module(self.teacher)
        pairs = [(str(s), str(t)) for s, t in self.hints]
        resolve_modules(module, [t for _, t in pairs], "teacher")
        return HintPlan(pairs, fn, name, options, float(self.hint_weight), TorchTeacher(module))

    def _probe_student(self, X: np.ndarray, y_enc: np.ndarray,
                       encoded: bool = False) -> torch.nn.Module | None:
        """A student like the one fit builds, to check its options and hint paths early.

        None for a data-aware student (one with ``fit_encoding``), which is
        built, and so checked, once its encoding is fitted after the teacher
        step, unless ``encoded`` is False: then it is built without its
        encoding (for the hints' paths). Built under a forked random state,
        so torch's global one is unchanged.
        """
        factory = self._module_factory()
        if isinstance(factory, torch.nn.Module):
            return factory  # the user's instance: probed in eval mode, modes restored
        if encoded and self._encoding_fitter() is not None:
            return None
        options = self._params_with("module__")
        n_features, n_classes = X.shape[1], self._n_outputs()
        with forked_cpu_rng():
            try:
                if isinstance(self.module, str):
                    return factory(n_features, n_classes, **options)
                return factory(**shape_arguments(factory, options, n_features, n_classes),
                               **options)
            except (TypeError, ValueError) as exc:
                raise InvalidParameterError(
                    f"module={self._module_name()} cannot be built from its module__* "
                    f"options {sorted(options)}: {exc}"
                ) from exc

    def _encoding_fitter(self) -> Callable[..., dict[str, Any]] | None:
        """The student's ``fit_encoding`` (see :meth:`_fit_encoding`), or None."""
        factory = self._module_factory()
        if isinstance(factory, torch.nn.Module):
            return None
        return getattr(getattr(factory, "factory", factory), "fit_encoding", None)

    def _module_factory(self) -> Any:
        """The student's constructor (checked against ``module__*``), or an instance."""
        options = self._params_with("module__")
        if isinstance(self.module, torch.nn.Module):
            if options:
                raise InvalidParameterError(
                    f"module is an instance, so module__* parameters {sorted(options)} "
                    "cannot reach it; pass the class instead."
                )
            return self.module
        if isinstance(self.module, str):
            try:
                factory = get_model(self.module)
            except ValueError as exc:
                raise InvalidParameterError(f"module={self.module!r}: {exc}") from exc
            check_options("module__", options, factory.factory, f"model {self.module!r}",
                          skip=2, reserved=("name",) if factory.name else ())
            return factory
        check_options("module__", options, self.module, f"module {self.module.__name__}")
        return self.module

    # -- fitting ----------------------------------------------------------

    def _fit(self, X: Any, y: Any, teacher_logits: Any = None, sample_weight: Any = None,
             groups: Any = None) -> BaseDistiller:
        """The fit itself; each estimator's ``fit`` documents it and calls this."""
        saved = self._fitted_state()
        try:
            net, X_fit, y_fit, continuing, random_state = self._prepare_fit(
                X, y, teacher_logits, sample_weight, groups)
        except BaseException:
            self._restore(saved)
            raise
        try:
            with random_state:
                (net.partial_fit if continuing else net.fit)(X_fit, y_fit)
        except KeyboardInterrupt:
            self._keep(net, random_state)
            raise
        except BaseException as exc:
            if continuing:
                self._keep(net, random_state)  # trained in place: it is the student now
            else:
                self._restore(saved)
            if isinstance(exc, KeyError) and exc.args and str(exc.args[0]).startswith("valid_"):
                raise InvalidParameterError(
                    f"A callback needs {exc.args[0]!r}, which only a validation split "
                    "records, but train_split=None: set "
                    "train_split=skorch.dataset.ValidSplit(0.2)."
                ) from exc
            raise
        self._keep(net, random_state)
        return self

    def _fitted_state(self) -> dict[str, Any]:
        """The fitted attributes (``*_``, and the random state a warm start resumes)."""
        return {k: v for k, v in vars(self).items()
                if (k.endswith("_") and not k.startswith("__")) or k == "_torch_random_state"}

    def _restore(self, state: dict[str, Any]) -> None:
        """Put back the fitted attributes of :meth:`_fitted_state`, dropping newer ones."""
        for key in self._fitted_state().keys() - state.keys():
            delattr(self, key)
        vars(self).update(state)

    def _prepare_fit(self, X: Any, y: Any, teacher_logits: Any, sample_weight: Any,
                     groups: Any) -> tuple[DistillationNet, Any, np.ndarray, bool, RandomState]:
        """Everything of a fit but training: the net, its inputs and the random state.

        Sets ``classes_``, ``n_features_in_`` and the teacher's attributes;
        :meth:`fit` restores them if this raises.
        """
        soft_loss, loss_name, augmentation, hint_plan = self._check_params()
        continuing = self.warm_start and hasattr(self, "net_")
        if continuing:
            self._check_unchanged_build()
        X_teacher = X
        X, y = self._validate(X, y, reset=not continuing)
        weights = self._check_sample_weight(sample_weight, X, soft_loss, loss_name,
                                            augmentation, hint_plan)
        if groups is not None and self.teacher_cv is None:
            raise InvalidParameterError(
                "groups is passed to fit, but only teacher_cv's splitter reads it and "
                "teacher_cv=None: set teacher_cv (e.g. GroupKFold(5)) or drop groups."
            )
        if groups is not None and len(groups) != len(X):
            raise ValueError(f"groups has {len(groups)} entries, but X has {len(X)} rows: "
                             "pass one group label per row.")
        y_enc = self._encode_targets(y, continuing, weights)
        unlabeled = ~self._labeled(y_enc)
        if unlabeled.any() and (self.alpha == 1 or (teacher_logits is None
                                                    and self.teacher is None)):
            raise ValueError(
                f"y marks {int(unlabeled.sum())} rows as unlabeled ({self.unlabeled!r}), which "
                "only learn from the teacher's soft labels, but there is no soft term: pass a "
                f"teacher (or fit(..., {self._outputs_param}=...)) and alpha < 1, or drop those "
                "rows."
            )
        # What can fail in building and training the student fails now, before a
        # teacher is fitted or queried.
        probe = self._check_build(X, y_enc, augmentation, continuing)

        n_rows = len(X)  # the training rows, before any transfer rows are appended
        inference = self.teacher_inference
        fresh = None  # a transfer set drawn anew every epoch
        kind = kind_of(augmentation)
        if augmentation is not None:
            soft_term = self.alpha < 1 and self.teacher is not None
            if teacher_logits is not None or (kind.needs_teacher and not soft_term):
                raise ValueError(
                    f"augment={self.augment!r} makes rows only a teacher can label: pass a "
                    f"teacher (not {self._outputs_param}) and alpha < 1, or set augment=None."
                )
            if kind.fresh:  # a warm start continues the epochs' sequence
                fresh = FreshTransferSet(augmentation, X, X_teacher, y_enc, self.random_state,
                                         epoch=len(self.net_.history) if continuing else 0)
                X, X_teacher, y, y_enc = fresh.add(X, X_teacher, y, y_enc)
            elif kind.transfer_set:
                X, X_teacher, y, y_enc = add_transfer_set(augmentation, X, X_teacher, y, y_enc,
                                                          self.random_state)
            if kind.batch:
                inference = "per_batch"  # the teacher sees every augmented batch
        if weights is not None and len(X) > n_rows:  # transfer rows weigh the mean weight
            weights = np.concatenate([weights, np.full(len(X) - n_rows, weights.mean(),
                                                       dtype=weights.dtype)])
        if groups is not None and len(X) > n_rows:  # unlabeled rows: never split by groups
            groups = np.asarray(groups)
            groups = np.concatenate([groups, np.repeat(groups[:1], len(X) - n_rows)])
        cache_hints = False
        if hint_plan is not None:
            student = self.net_.module_ if continuing else (
                probe if probe is not None else self._probe_student(X, y_enc))
            probe_shapes(hint_plan, student, X[:2])
            if continuing and (getattr(self.net_, "hint_plan", None) is None
                               or self.net_.hint_plan.shapes != hint_plan.shapes
                               or self.net_.hint_plan.hints != hint_plan.hints):
                raise ValueError(
                    "warm_start=True continues the fitted student with the hints it was "
                    "trained with; set warm_start=False to train with other hints."
                )
            cache_hints = (inference == "once"
                           and len(X) * hint_plan.row_bytes() <= HINT_CACHE_BYTES)
            if not cache_hints:
                inference = "per_batch"  # the teacher's features are needed on every batch
        features = None
        step = partial(self._teacher_step, X_teacher, y, y_enc, teacher_logits, inference,
                       sample_weight=weights, groups=groups)
        if cache_hints:
            assert hint_plan is not None
            # the pass that gives the teacher's logits records its features too
            with capture_features(hint_plan.teacher_modules()) as records:
                outputs = step()
            features = hint_plan.recorded_features(records, len(X))
            if features is None:  # the teacher did not run on every row once
                features = hint_plan.all_teacher_features(
                    X, self.teacher_batch_size or self.batch_size)
        else:
            outputs = step()
        net_params = {
            "alpha": self.alpha,
            **self._soft_loss_params(),
            "soft_loss": soft_loss if outputs is not None else None,
            "loss_name": loss_name,
            "loss_options": self._params_with("loss__"),
            "online_teacher": outputs.per_batch if outputs is not None else None,
            "augmentation": augmentation if kind.batch else None,
            "hint_plan": hint_plan,
            # a batch augmentation may make rows without a label (mixup does)
            "mixed_precision": self.mixed_precision,
            "accelerator": self.accelerator,
            "has_unlabeled": bool((~self._labeled(y_enc)).any())
                             or kind.batch,
            "fresh_transfer": None if fresh is None else self._label_fresh(fresh, outputs),
        }
        if continuing:
            net, resume = self.net_, self._torch_random_state
            net.set_params(max_epochs=self.max_epochs, batch_size=self.batch_size,
                           verbose=self.verbose, **net_params)
            if self.lr != net.lr:
                net.set_params(lr=self.lr)
        else:
            encoding = self._fit_encoding(X[:n_rows], y_enc[:n_rows], outputs, n_rows)
            net, resume = self._build_net(X.shape[1], self._n_outputs(), net_params,
                                          encoding), None
            net.fitted_encoding = encoding
            net.built_with = self._build_params()

        X_fit: Any = X
        if outputs is not None and outputs.values is not None:
            X_fit = {INPUT_KEY: X, TEACHER_KEY: outputs.values}
        if features is not None:
            X_fit = {**(X_fit if isinstance(X_fit, dict) else {INPUT_KEY: X}),
                     **{HINT_KEY.format(i): f for i, f in enumerate(features)}}
        weights = self._student_weights(weights, y_enc)
        if weights is not None:
            X_fit = {**(X_fit if isinstance(X_fit, dict) else {INPUT_KEY: X}),
                     WEIGHT_KEY: weights}
        return net, X_fit, y_enc, continuing, RandomState(self.random_state, self._device(),
                                                          resume=resume)

    def _check_sample_weight(self, sample_weight: Any, X: np.ndarray, soft_loss: Any,
                             loss_name: str, augmentation: Any,
                             hint_plan: HintPlan | None) -> np.ndarray | None:
        """``sample_weight`` as float32 weights, or None; refused where it cannot apply."""
        if sample_weight is None:
            return None
        weights = _check_sample_weight(sample_weight, X, dtype=np.float32,
                                       ensure_non_negative=True, copy=True)
        if not np.all(np.isfinite(weights)):
            raise ValueError("sample_weight holds NaN or infinity; weights must be finite.")
        if not weights.any():
            raise ValueError("Sample weights must contain at least one non-zero number; "
                             "every sample_weight is 0.")
        if hint_plan is not None:
            raise InvalidParameterError(
                "sample_weight is not supported with hints: the hint term has no per-row "
                "weights. Drop sample_weight or hints."
            )
        if kind_of(augmentation).batch:
            raise InvalidParameterError(
                f"sample_weight is not supported with augment={self.augment!r}, which makes "
                "new rows from every batch; drop sample_weight or use a transfer set "
                "(augment='munge')."
            )
        if self.alpha < 1 and not _takes_keyword(soft_loss, "sample_weight"):
            raise InvalidParameterError(
                f"loss {loss_name!r} takes no sample_weight keyword, so fit(sample_weight=...) "
                "cannot weight its rows: use a built-in loss (they all take it), or add "
                "sample_weight to the loss (see skkd.hookspecs.skkd_register_losses)."
            )
        return weights

    #: The parameters a student is built with; a warm start cannot change them.
    _BUILD_PARAMS = ("module", "optimizer", "device", "callbacks", "train_split")
    _BUILD_PREFIXES = ("module__", "optimizer__", "criterion__", "callbacks__",
                       "iterator_train__", "iterator_valid__")

    def _build_params(self) -> dict[str, Any]:
        """The parameters the student is built with (see :meth:`_check_unchanged_build`)."""
        params = {name: getattr(self, name) for name in self._BUILD_PARAMS}
        params.update({k: v for k, v in self._keyword_params.items()
                       if k.startswith(self._BUILD_PREFIXES)})
        return params

    def _check_unchanged_build(self) -> None:
        """A warm start continues the built student: refuse changed build parameters."""
        built = getattr(self.net_, "built_with", None)
        if built is None:  # a student fitted before build parameters were recorded
            return
        now = self._build_params()
        changed = sorted(k for k in built.keys() | now.keys()
                         if not _same(built.get(k), now.get(k)))
        if changed:
            raise InvalidParameterError(
                f"warm_start=True continues the fitted student, which was built with other "
                f"{', '.join(changed)} ({', '.join(f'{k}={built.get(k)!r}' for k in changed)}); "
                "a warm start cannot change them. Set them back, or set warm_start=False to "
                "train a new student."
            )

    def _check_build(self, X: np.ndarray, y_enc: np.ndarray, augmentation: Any,
                     continuing: bool) -> torch.nn.Module | None:
        """Check the device, the hard-label loss, the student and the batch augmentation.

        Returns the probe student (None when continuing, and for a data-aware
        student, which learns its encoding after the teacher step).
        """
        device = self._device()  # the accelerator's, checked against device
        if self.accelerator is not None and self.mixed_precision is not None:
            raise InvalidParameterError(
                f"mixed_precision={self.mixed_precision!r} with an accelerator: set mixed "
                "precision on the Accelerator (Accelerator(mixed_precision='bf16')) instead."
            )
        try:
            torch.empty(0, device=device)
        except (RuntimeError, AssertionError) as exc:
            raise InvalidParameterError(
                f"device={self.device!r} cannot be used here ({exc}); pass device='cpu', or "
                "a device torch can reach (torch.cuda.is_available())."
            ) from exc
        if (self.mixed_precision == "bf16" and torch.device(device).type == "cuda"
                and not torch.cuda.is_bf16_supported()):
            raise InvalidParameterError(
                f"mixed_precision='bf16': device={self.device!r} has no bfloat16 support; "
                "use mixed_precision='fp16' or None."
            )
        self._check_hard_loss()
        probe = None if continuing else self._probe_student(X, y_enc, encoded=True)
        if kind_of(augmentation).batch:
            check_batch_augmentation(augmentation, self.augment, X[:2], y_enc[:2])
        return probe

    def _keep(self, net: DistillationNet, random_state: RandomState) -> None:
        self.net_ = net
        self.history_ = net.history
        self.encoding_ = dict(getattr(net, "fitted_encoding", {}))
        self._torch_random_state = random_state.final

    def _fit_encoding(self, X: np.ndarray, y_enc: np.ndarray, outputs: TeacherOutputs | None,
                      n_rows: int) -> dict[str, Any]:
        """The ``module__*`` options a data-aware student learns from the training rows.

        A student whose factory (or class) has ``fit_encoding`` (see
        :func:`skkd.hookspecs.skkd_register_models`) gets the training rows,
        the fitted teacher and its outputs on those rows; others learn nothing.
        """
        fit_encoding = self._encoding_fitter()
        if fit_encoding is None:
            return {}
        teacher = outputs.fitted if outputs is not None else None
        if teacher is None and not is_unfitted_estimator(self.teacher):
            teacher = self.teacher  # a student trained without a soft term may still read it
        logits = None if outputs is None or outputs.values is None else outputs.values[:n_rows]
        options = self._params_with("module__")
        try:
            learned = fit_encoding(X, y_enc, teacher=teacher, teacher_logits=logits, **options)
        except ValueError as exc:
            raise InvalidParameterError(f"module={self._module_name()}: {exc}") from exc
        return dict(learned)

    def _module_name(self) -> str:
        return repr(self.module) if isinstance(self.module, str) else getattr(
            self.module, "__name__", type(self.module).__name__)

    def _build_net(self, n_features: int, n_classes: int, net_params: dict[str, Any],
                   encoding: dict[str, Any] | None = None) -> DistillationNet:
        module = self._module_factory()
        options = {**self._params_with("module__"), **(encoding or {})}
        if isinstance(module, torch.nn.Module):
            module = copy.deepcopy(module)
        elif isinstance(self.module, str):
            module = partial(module, n_features, n_classes)
        else:
            module = partial(module, **shape_arguments(module, options, n_features, n_classes))
        forwarded = {
            "iterator_train__shuffle": True,
            **{k: v for k, v in self._keyword_params.items() if k.startswith(SKORCH_PREFIXES)},
            **{f"module__{k}": v for k, v in options.items()},
        }
        return self._net_class(
            module=module,
            n_classes=n_classes,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchLoader,
            iterator_valid=BatchLoader,
            dataset=ArrayDataset,
            dataset__device=self._device(),
            train_split=self.train_split,
            callbacks=self.callbacks,
            predict_nonlinearity=None,
            verbose=self.verbose,
            device=self._device(),
            # skorch calls a sink other than print whatever verbose says
            **({"callbacks__print_log__sink": print_on_rank_0}
               if self.accelerator is not None and self.verbose else {}),
            **net_params,
            **self._criterion_options(forwarded, n_classes),
        )

    def _device(self) -> Any:
        """Where the student trains: the accelerator's device if there is one."""
        if self.accelerator is not None:
            return accelerator_device(self.accelerator, self.device)
        return self.device

    def without_teacher(self) -> BaseDistiller:
        """A fitted copy that carries no teacher: the student alone, to ship.

        The copy is a complete estimator (``predict``, ``score``, and for a
        classifier ``predict_proba`` and ``classes_``) whose pickle holds neither the teacher nor
        its adapter, its outputs or the augmentation: it is small, and it
        loads where the teacher's code cannot be imported. Its
        ``teacher`` and ``teacher_`` are None; ``teacher_score_`` is kept.
        The optimizer's state (e.g. Adam's moments) is left behind too:
        continuing to train the copy (``warm_start=True``) starts a fresh
        optimizer, without a teacher (set ``teacher`` first to distill).

        Returns
        -------
        estimator
            A new estimator of the same class; this one is left as it is.
        """
        check_is_fitted(self, "net_")
        net = self.net_
        # Deep-copy everything but the teacher's side: a memo entry makes
        # deepcopy use None in place of that object, without copying it.
        plan = getattr(net, "hint_plan", None)
        memo: dict[int, Any] = {id(obj): None for obj in (
            self.teacher, self.teacher_, net.online_teacher, net.augmentation,
            plan.teacher if plan is not None else None,
            getattr(net, "optimizer_", None), self.accelerator) if obj is not None}
        state = {k: v for k, v in self.__dict__.items() if k not in ("teacher", "teacher_")}
        slim = type(self).__new__(type(self))
        slim.__dict__.update(copy.deepcopy(state, memo))
        slim.teacher = None
        slim.teacher_ = None
        slim.history_ = slim.net_.history
        slim.net_.initialize_optimizer()  # a fresh one: the moments are training state
        return slim

    def _student_outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "net_")
        return self.net_.predict_outputs(self._validated_rows(X))

    def _validated_rows(self, X: Any) -> np.ndarray:
        """``validate_data(self, X, reset=False, dtype=np.float32)``, fast for plain arrays.

        For a 2-D float32 or float64 ``numpy.ndarray`` with the fitted number
        of columns, no feature names to compare, and only finite values,
        ``validate_data`` has nothing to report and returns the rows as they
        are (or cast): they are returned directly, without its Python
        overhead (most of ``predict``'s cost on one row). A sum that overflows
        only sends the rows the slow way. Anything else goes
        through ``validate_data``, which raises or warns as scikit-learn does.
        """
        if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FAST_DTYPES
                and X.shape[0] > 0 and X.shape[1] == self.n_features_in_
                and not hasattr(self, "feature_names_in_")):
            with np.errstate(over="ignore"):  # validate_data reports an overflow below
                rows = X if X.dtype == np.float32 else X.astype(np.float32)
            # a finite sum proves every value finite (scikit-learn's own fast test),
            # after the cast: a float64 beyond float32's range becomes infinite
            if np.isfinite(rows.sum()):
                return rows
        return validate_data(self, X, reset=False, dtype=np.float32)
