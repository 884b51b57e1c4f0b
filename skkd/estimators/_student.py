"""The student: its module, a probe of it, its data-aware encoding, the net around it.

:class:`StudentMixin` is the part of
:class:`~skkd.estimators._base.BaseDistiller` that knows the student module
(the ``module`` and ``module__*`` parameters): it checks that the student can
be built before a teacher is touched, fits a data-aware student's encoding,
builds the skorch net that trains it, and records what a warm start cannot
change. :mod:`skkd.persistence` rebuilds a loaded student through it too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch

from skkd._columns import code_columns
from skkd._options import check_options, shape_arguments
from skkd._seeding import forked_cpu_rng
from skkd.estimators._params import (
    AUTO,
    AUTO_MODULE,
    AUTO_SETTINGS,
    SKORCH_PREFIXES,
    TABULAR_STUDENTS,
)
from skkd.exceptions import InvalidParameterError
from skkd.plugins import get_model
from skkd.teachers._folds import is_unfitted_estimator
from skkd.teachers._outputs import TeacherOutputs
from skkd.training._accelerate import print_on_rank_0
from skkd.training._data import ArrayDataset, BatchLoader
from skkd.training._net import DistillationNet
from skkd.training._schedule import with_schedule


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


#: The rows a data-aware probe student learns its encoding from (see ``_probe_student``).
PROBE_ROWS = 1024


class StudentMixin:
    """Build, probe and rebuild the student; mixed into ``BaseDistiller``.

    Reads the estimator's ``module``, ``module__*`` and training parameters,
    its ``_net_class``, and its hooks ``_n_outputs``, ``_criterion_options``,
    ``_device`` and ``_params_with``.
    """

    def _student_module(self, encoded: bool | None = None) -> Any:
        """``module``, with ``"auto"`` resolved: ``"tabular-mlp"`` for a DataFrame the
        student encodes itself (``encoded``; by default, whether ``columns_`` is set),
        ``"mlp"`` for anything else."""
        if not (isinstance(self.module, str) and self.module == AUTO_MODULE):
            return self.module
        if encoded is None:
            encoded = self.__dict__.get("columns_") is not None
        return "tabular-mlp" if encoded else "mlp"

    def _setting(self, name: str) -> Any:
        """The training parameter ``name`` as this fit uses it: its value, or for
        ``"auto"`` the setting of :data:`AUTO_SETTINGS` for the student (the tabular
        one for a ``tabular-mlp``, named or chosen by ``module="auto"``)."""
        value = getattr(self, name)
        if not (isinstance(value, str) and value == AUTO):
            return value
        module = self._student_module()
        tabular = isinstance(module, str) and module in TABULAR_STUDENTS
        return AUTO_SETTINGS["tabular" if tabular else "other"][name]

    def _teacher_batch_size(self) -> int:
        """The teacher's inference batch: ``teacher_batch_size``, else the student's."""
        return self.teacher_batch_size or self._setting("batch_size")

    def _module_factory(self, encoded: bool | None = None) -> Any:
        """The student's constructor (checked against ``module__*``), or an instance."""
        options = self._params_with("module__")
        module = self._student_module(encoded)
        if isinstance(module, torch.nn.Module):
            if options:
                raise InvalidParameterError(
                    f"module is an instance, so module__* parameters {sorted(options)} "
                    "cannot reach it; pass the class instead."
                )
            return module
        if isinstance(module, str):
            try:
                factory = get_model(module)
            except ValueError as exc:
                raise InvalidParameterError(f"module={module!r}: {exc}") from exc
            check_options("module__", options, factory.factory, f"model {module!r}",
                          skip=2, reserved=("name",) if factory.name else ())
            return factory
        check_options("module__", options, module, f"module {module.__name__}")
        return module

    def _module_name(self) -> str:
        module = self._student_module()
        return repr(module) if isinstance(module, str) else getattr(
            module, "__name__", type(module).__name__)

    def _module_options(self) -> dict[str, Any]:
        """The options the student is built with: the ``module__*`` parameters, over what
        the column encoding of a raw DataFrame found (``columns_``).

        A student that takes category codes gets ``categorical`` (the code
        columns) and ``cardinalities`` (the categories seen in each), unless
        ``module__categorical`` or ``module__cardinalities`` is set.
        """
        options = self._params_with("module__")
        columns = self.__dict__.get("columns_")
        if columns is None or "categorical" in options or "cardinalities" in options:
            return options
        categorical, cardinalities = code_columns(columns)
        if not categorical:
            return options
        return {"categorical": categorical, "cardinalities": cardinalities, **options}

    def _probe_student(self, X: np.ndarray, y_enc: np.ndarray,
                       encoded: bool = False) -> torch.nn.Module | None:
        """A student like the one fit builds, to check its options and hint paths early.

        None for a data-aware student (one with ``fit_encoding``), which is
        built, and so checked, once its encoding is fitted after the teacher
        step, unless ``encoded`` is False (for the hints' paths): then it is
        built with an encoding learned without a teacher from the first
        :data:`PROBE_ROWS` rows (a piecewise-linear student needs its bins),
        or without one when that fails. Built under a forked random state, so
        torch's global one is unchanged.
        """
        factory = self._module_factory()
        if isinstance(factory, torch.nn.Module):
            return factory  # the user's instance: probed in eval mode, modes restored
        fitter = self._encoding_fitter()
        if encoded and fitter is not None:
            return None
        options = self._module_options()
        if fitter is not None:
            try:
                options = {**options, **fitter(X[:PROBE_ROWS], y_enc[:PROBE_ROWS], teacher=None,
                                               teacher_logits=None, **options)}
            except Exception:  # noqa: BLE001 - an encoding that needs the teacher: built without
                pass
        n_features, n_classes = X.shape[1], self._n_outputs()
        with forked_cpu_rng():
            try:
                if isinstance(self._student_module(), str):
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
        if self.__dict__.get("columns_") is not None:
            teacher = None  # it reads the raw columns: its split thresholds are not the student's
        logits = None if outputs is None or outputs.values is None else outputs.values[:n_rows]
        options = self._module_options()
        try:
            learned = fit_encoding(X, y_enc, teacher=teacher, teacher_logits=logits, **options)
        except ValueError as exc:
            raise InvalidParameterError(f"module={self._module_name()}: {exc}") from exc
        return dict(learned)

    def _build_net(self, n_features: int, n_classes: int, net_params: dict[str, Any],
                   encoding: dict[str, Any] | None = None) -> DistillationNet:
        module = self._module_factory()
        options = {**self._module_options(), **(encoding or {})}
        if isinstance(module, torch.nn.Module):
            module = copy.deepcopy(module)
        elif isinstance(self._student_module(), str):
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
            lr=self._setting("lr"),
            max_epochs=self._setting("max_epochs"),
            batch_size=self._setting("batch_size"),
            iterator_train=BatchLoader,
            iterator_valid=BatchLoader,
            dataset=ArrayDataset,
            dataset__device=self._device(),
            train_split=self.train_split,
            callbacks=with_schedule(self.callbacks, self._setting("lr_schedule")),
            predict_nonlinearity=None,
            verbose=self.verbose,
            device=self._device(),
            # skorch calls a sink other than print whatever verbose says
            **({"callbacks__print_log__sink": print_on_rank_0}
               if self.accelerator is not None and self.verbose else {}),
            **net_params,
            **self._criterion_options(forwarded, n_classes),
        )

    #: The parameters a student is built with; a warm start cannot change them.
    _BUILD_PARAMS = ("module", "categorical_features", "optimizer", "device", "callbacks",
                     "lr_schedule", "train_split")
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
        built = {"categorical_features": "from_dtype", "lr_schedule": "auto",
                 **built}  # fitted before they existed
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
