"""What every skkd estimator shares: parameters, the fit transaction, shipping.

:class:`BaseDistiller` holds the machinery of :class:`skkd.DistilledClassifier`
and :class:`skkd.DistilledRegressor` (as scikit-learn's ``BaseForest`` does for
its classifier and regressor): the shared parameters and their checks, the fit
that either completes or leaves the estimator as it was (its steps are in
:mod:`skkd.estimators._fit`), the student (:mod:`skkd.estimators._student`),
``without_teacher``. What differs by task (targets, the teacher's outputs, the
hard loss, prediction) is a handful of hook methods each estimator defines;
the hooks for what only one task has (hints, ``teacher_inference``) do the
neutral thing here.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from skkd._options import check_options
from skkd._seeding import RandomState
from skkd.augmentations._fit_time import FreshTransferSet, build_augmentation, kind_of
from skkd.estimators._fit import (
    FitPlan,
    add_transfer_rows,
    assemble_inputs,
    build_or_continue_net,
    check,
    plan_hints,
    seed,
    teach,
)
from skkd.estimators._frames import FrameMixin
from skkd.estimators._params import (
    AUTO_MODULE,
    PREFIXES,
    SHARED_PARAMETERS,
    Entry,
    check_callbacks_need_no_split,
    named_or_callable,
    validate_parameters,
)
from skkd.estimators._student import StudentMixin
from skkd.exceptions import InvalidParameterError
from skkd.hints._plan import HintPlan
from skkd.plugins import get_loss
from skkd.teachers._folds import is_unfitted_estimator, share_or_clone
from skkd.teachers._outputs import TeacherOutputs
from skkd.training._accelerate import accelerator_device
from skkd.training._net import DistillationNet


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


class BaseDistiller(FrameMixin, StudentMixin, BaseEstimator):
    """The machinery of skkd's estimators; use a subclass.

    Subclasses define ``__init__`` (scikit-learn reads the parameters from
    it; each stores ``self._keyword_params = dict(kwargs)``), their
    ``_parameter_table`` (this one's and their own parameters'), ``fit``
    (which calls :meth:`_fit`), prediction, and the hook methods below.
    """

    # -- what each task defines ------------------------------------------

    #: The hard-label loss, whose ``criterion__*`` options are checked.
    _hard_loss_class: type = torch.nn.CrossEntropyLoss
    #: The skorch net that trains the student.
    _net_class: type = DistillationNet
    #: The name of ``fit``'s precomputed teacher outputs, for messages.
    _outputs_param = "teacher_logits"
    #: What each named parameter accepts: here, the parameters both estimators have.
    _parameter_table: dict[str, Entry] = SHARED_PARAMETERS

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        """``X`` as the student's float32 rows and ``y`` checked (sets ``n_features_in_``,
        and ``columns_`` for a DataFrame the student encodes, when ``reset``)."""
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

    def _given_outputs(self, plan: FitPlan) -> TeacherOutputs:
        """``fit``'s precomputed teacher outputs (``plan.given``), checked and scored."""
        raise NotImplementedError

    def _queried_outputs(self, plan: FitPlan) -> TeacherOutputs:
        """The teacher's outputs: unfitted teachers' clones fitted, then queried and scored."""
        raise NotImplementedError

    def _trained_outputs(self, outputs: TeacherOutputs, y_enc: np.ndarray) -> TeacherOutputs:
        """The teacher's outputs as the student trains on them (checked, rescaled)."""
        return outputs

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

    def _hint_plan(self) -> HintPlan | None:
        """The hints' loss, options and torch teacher, checked; None without hints.

        None here, where there are no hints: ``hint_loss__*`` options are refused.
        """
        options = self._params_with("hint_loss__")
        if options:
            raise InvalidParameterError(
                f"hint_loss__* parameters {sorted(options)} are set but hints=None; "
                "name (student path, teacher path) pairs in hints."
            )
        return None

    def _teacher_inference(self) -> str:
        """How the teacher is queried, unless a step needs every batch: ``"once"`` here."""
        return "once"

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

    def _check_params(self) -> FitPlan:
        """Validate every parameter before any data or teacher is touched.

        Returns the fit's plan, holding what the parameters resolve to: the
        soft loss, the augmentation, the hints.
        """
        unknown = sorted(k for k in self._keyword_params if not k.startswith(tuple(PREFIXES)))
        if unknown:  # e.g. a classifier's temperature given to the regressor
            raise InvalidParameterError(
                f"Unknown parameter {unknown[0]!r} for {type(self).__name__}; keyword "
                f"parameters must start with one of {', '.join(PREFIXES)} (its other "
                f"parameters: {', '.join(self._get_param_names())})."
            )
        validate_parameters(self.get_params(deep=False), type(self).__name__,
                            self._parameter_table)
        check_callbacks_need_no_split(self.callbacks, self.train_split)
        soft_loss, loss_name = named_or_callable("loss", self.loss, get_loss)
        check_options("loss__", self._params_with("loss__"), soft_loss, f"loss {loss_name!r}",
                      skip=2, reserved=("temperature", "y", "sample_weight"))
        self._check_loss(soft_loss, loss_name)
        check_options("criterion__", self._params_with("criterion__"), self._hard_loss_class,
                      f"the hard-label loss torch.nn.{self._hard_loss_class.__name__}")
        if not (isinstance(self.module, str) and self.module == AUTO_MODULE):
            self._module_factory()  # "auto" is checked once X says which student it is
        augmentation = build_augmentation(self.augment, self._params_with("augment__"))
        return FitPlan(soft_loss, loss_name, augmentation, self._hint_plan())

    # -- fitting ----------------------------------------------------------

    def _fit(self, X: Any, y: Any, teacher_outputs: Any = None, sample_weight: Any = None,
             groups: Any = None) -> BaseDistiller:
        """The fit itself, as named steps; each estimator's ``fit`` documents it and calls this.

        Every step but training runs first (:mod:`skkd.estimators._fit`); if
        one raises, the fitted attributes are restored as they were.
        """
        saved = self._fitted_state()
        try:
            plan = check(self, X, y, teacher_outputs, sample_weight, groups)
            add_transfer_rows(self, plan)
            plan_hints(self, plan)
            teach(self, plan)
            build_or_continue_net(self, plan)
            assemble_inputs(self, plan)
            seed(self, plan)
        except BaseException:
            self._restore(saved)
            raise
        net, random_state = plan.net, plan.random_state
        try:
            with random_state:
                (net.partial_fit if plan.continuing else net.fit)(plan.X_fit, plan.y_enc)
        except KeyboardInterrupt:
            self._keep(net, random_state)
            raise
        except BaseException as exc:
            if plan.continuing:
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

    def _check_sample_weight(self, sample_weight: Any, plan: FitPlan) -> np.ndarray | None:
        """``sample_weight`` as float32 weights, or None; refused where it cannot apply."""
        if sample_weight is None:
            return None
        weights = _check_sample_weight(sample_weight, plan.X, dtype=np.float32,
                                       ensure_non_negative=True, copy=True)
        if not np.all(np.isfinite(weights)):
            raise ValueError("sample_weight holds NaN or infinity; weights must be finite.")
        if not weights.any():
            raise ValueError("Sample weights must contain at least one non-zero number; "
                             "every sample_weight is 0.")
        if plan.hint_plan is not None:
            raise InvalidParameterError(
                "sample_weight is not supported with hints: the hint term has no per-row "
                "weights. Drop sample_weight or hints."
            )
        if kind_of(plan.augmentation).batch:
            raise InvalidParameterError(
                f"sample_weight is not supported with augment={self.augment!r}, which makes "
                "new rows from every batch; drop sample_weight or use a transfer set "
                "(augment='munge')."
            )
        if self._setting("alpha") < 1 and not _takes_keyword(plan.soft_loss, "sample_weight"):
            raise InvalidParameterError(
                f"loss {plan.loss_name!r} takes no sample_weight keyword, so "
                "fit(sample_weight=...) cannot weight its rows: use a built-in loss (they all "
                "take it), or add sample_weight to the loss (see "
                "skkd.hookspecs.skkd_register_losses)."
            )
        return weights

    def _keep(self, net: DistillationNet, random_state: RandomState) -> None:
        self.net_ = net
        self.history_ = net.history
        self.encoding_ = dict(getattr(net, "fitted_encoding", {}))
        self._torch_random_state = random_state.final

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
        A student fitted on a DataFrame it encodes (``columns_``) encodes ``X``.
        """
        if self.__dict__.get("columns_") is not None:
            return self._frame_rows(X, reset=False)
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
