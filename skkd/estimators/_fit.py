"""The steps of a fit, in order, and the plan they hand each other.

:meth:`BaseDistiller._fit <skkd.estimators._base.BaseDistiller._fit>` reads as
its table of contents::

    check -> add_transfer_rows -> plan_hints -> teach -> build_or_continue_net
          -> assemble_inputs -> seed -> (train)

Each step takes the estimator (``est``, the ``BaseDistiller`` being fitted;
this module never imports it, so the two do not import each other) and the
:class:`FitPlan`, and fills in what it decides; what differs by task is a
hook of the estimator (``_validate``, ``_encode_targets``, ``_given_outputs``
...). Everything that can fail before training fails in :func:`check`,
before a teacher is fitted or queried.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from skkd._seeding import RandomState
from skkd.augmentations._batches import check_batch_augmentation
from skkd.augmentations._fit_time import (
    FreshTransferSet,
    add_transfer_set,
    kind_of,
    with_categorical,
)
from skkd.exceptions import InvalidParameterError
from skkd.hints._modules import capture_features
from skkd.hints._plan import HINT_CACHE_BYTES, HintPlan, probe_shapes
from skkd.teachers._outputs import TeacherOutputs
from skkd.training._data import HINT_KEY, INPUT_KEY, TEACHER_KEY, WEIGHT_KEY
from skkd.training._net import DistillationNet


@dataclass
class FitPlan:
    """What the steps of one fit decide, handed from step to step.

    The parameters' part comes from ``BaseDistiller._check_params``; each
    step fills in its own fields (None until then).
    """

    # the parameters, checked and resolved
    soft_loss: Any
    loss_name: str
    augmentation: Any
    hint_plan: HintPlan | None
    # check: fit's arguments, validated
    given: Any = None  # fit's teacher_logits / teacher_predictions
    continuing: bool = False  # warm_start continues the fitted student
    X_teacher: Any = None  # X as the user passed it, for the teacher
    X: Any = None  # the student's rows, float32
    y: Any = None
    y_enc: Any = None  # the targets the net trains on
    weights: np.ndarray | None = None  # the checked sample_weight
    groups: Any = None
    probe: torch.nn.Module | None = None
    n_rows: int = 0  # the training rows, before any transfer rows are appended
    inference: str = "once"  # how the teacher is queried: "once" or "per_batch"
    # add_transfer_rows, plan_hints, teach
    fresh: FreshTransferSet | None = None  # a transfer set drawn anew every epoch
    cache_hints: bool = False
    outputs: TeacherOutputs | None = None
    features: list[np.ndarray] | None = None  # the teacher's hint features, cached
    # build_or_continue_net, assemble_inputs, seed
    net: DistillationNet | None = None
    X_fit: Any = None
    random_state: RandomState | None = None


def check(est: Any, X: Any, y: Any, given: Any, sample_weight: Any,
          groups: Any) -> FitPlan:
    """Check the parameters, the data, ``sample_weight``, ``groups``, the targets and the build.

    What can fail in building and training the student fails here, before a
    teacher is fitted or queried. Sets ``n_features_in_``, ``columns_`` (a raw
    DataFrame's encoding, or None) and the targets' fitted attributes (``classes_``, ...).
    """
    plan = est._check_params()
    plan.given = given
    # a batch augmentation's teacher sees every augmented batch
    plan.inference = ("per_batch" if kind_of(plan.augmentation).batch
                      else est._teacher_inference())
    plan.continuing = est.warm_start and hasattr(est, "net_")
    if plan.continuing:
        est._check_unchanged_build()
    plan.X_teacher = X
    plan.X, plan.y = est._validate(X, y, reset=not plan.continuing)
    plan.n_rows = len(plan.X)
    plan.weights = est._check_sample_weight(sample_weight, plan)
    if groups is not None and est.teacher_cv is None:
        raise InvalidParameterError(
            "groups is passed to fit, but only teacher_cv's splitter reads it and "
            "teacher_cv=None: set teacher_cv (e.g. GroupKFold(5)) or drop groups."
        )
    if groups is not None and len(groups) != len(plan.X):
        raise ValueError(f"groups has {len(groups)} entries, but X has {len(plan.X)} rows: "
                         "pass one group label per row.")
    plan.groups = groups
    plan.y_enc = est._encode_targets(plan.y, plan.continuing, plan.weights)
    unlabeled = ~est._labeled(plan.y_enc)
    if unlabeled.any() and (est._setting("alpha") == 1 or (given is None and est.teacher is None)):
        raise ValueError(
            f"y marks {int(unlabeled.sum())} rows as unlabeled ({est.unlabeled!r}), which "
            "only learn from the teacher's soft labels, but there is no soft term: pass a "
            f"teacher (or fit(..., {est._outputs_param}=...)) and alpha < 1, or drop those "
            "rows."
        )
    _check_build(est, plan)
    return plan


def _check_build(est: Any, plan: FitPlan) -> None:
    """Check the device, the hard-label loss, the student and the batch augmentation.

    Sets ``plan.probe``, the probe student (None when continuing, and for a
    data-aware student, which learns its encoding after the teacher step).
    """
    device = est._device()  # the accelerator's, checked against device
    if est.accelerator is not None and est.mixed_precision is not None:
        raise InvalidParameterError(
            f"mixed_precision={est.mixed_precision!r} with an accelerator: set mixed "
            "precision on the Accelerator (Accelerator(mixed_precision='bf16')) instead."
        )
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise InvalidParameterError(
            f"device={est.device!r} cannot be used here ({exc}); pass device='cpu', or "
            "a device torch can reach (torch.cuda.is_available())."
        ) from exc
    if (est.mixed_precision == "bf16" and torch.device(device).type == "cuda"
            and not torch.cuda.is_bf16_supported()):
        raise InvalidParameterError(
            f"mixed_precision='bf16': device={est.device!r} has no bfloat16 support; "
            "use mixed_precision='fp16' or None."
        )
    est._check_hard_loss()
    if not plan.continuing:
        plan.probe = est._probe_student(plan.X, plan.y_enc, encoded=True)
    if kind_of(plan.augmentation).batch:
        check_batch_augmentation(plan.augmentation, est.augment, plan.X[:2], plan.y_enc[:2])


def add_transfer_rows(est: Any, plan: FitPlan) -> None:
    """Append the augmentation's transfer rows (drawn once, or anew every epoch).

    Transfer rows weigh the mean weight and join the first row's group.
    """
    if plan.augmentation is None:
        return
    kind = kind_of(plan.augmentation)
    soft_term = est._setting("alpha") < 1 and est.teacher is not None
    if plan.given is not None or (kind.needs_teacher and not soft_term):
        raise ValueError(
            f"augment={est.augment!r} makes rows only a teacher can label: pass a "
            f"teacher (not {est._outputs_param}) and alpha < 1, or set augment=None."
        )
    plan.augmentation = with_categorical(  # MUNGE copies category codes, never mixes them
        plan.augmentation, est._module_options().get("categorical"), plan.X.shape[1])
    rows = plan.X, plan.X_teacher, plan.y, plan.y_enc
    if kind.fresh:  # a warm start continues the epochs' sequence
        plan.fresh = FreshTransferSet(plan.augmentation, plan.X, plan.X_teacher, plan.y_enc,
                                      est.random_state,
                                      epoch=len(est.net_.history) if plan.continuing else 0)
        rows = plan.fresh.add(*rows)
    elif kind.transfer_set:
        rows = add_transfer_set(plan.augmentation, *rows, est.random_state)
    plan.X, plan.X_teacher, plan.y, plan.y_enc = rows
    added = len(plan.X) - plan.n_rows
    if plan.weights is not None and added:
        plan.weights = np.concatenate([plan.weights, np.full(added, plan.weights.mean(),
                                                             dtype=plan.weights.dtype)])
    if plan.groups is not None and added:  # unlabeled rows: never split by groups
        groups = np.asarray(plan.groups)
        plan.groups = np.concatenate([groups, np.repeat(groups[:1], added)])


def plan_hints(est: Any, plan: FitPlan) -> None:
    """Probe the hints' shapes on the student, and decide whether the teacher's features are
    cached (recorded in the teacher step) or computed on every batch."""
    hint_plan = plan.hint_plan
    if hint_plan is None:
        return
    student = est.net_.module_ if plan.continuing else (
        plan.probe if plan.probe is not None else est._probe_student(plan.X, plan.y_enc))
    probe_shapes(hint_plan, student, plan.X[:2])
    if plan.continuing and (getattr(est.net_, "hint_plan", None) is None
                            or est.net_.hint_plan.shapes != hint_plan.shapes
                            or est.net_.hint_plan.hints != hint_plan.hints):
        raise ValueError(
            "warm_start=True continues the fitted student with the hints it was "
            "trained with; set warm_start=False to train with other hints."
        )
    plan.cache_hints = (plan.inference == "once"
                        and len(plan.X) * hint_plan.row_bytes() <= HINT_CACHE_BYTES)
    if not plan.cache_hints:
        plan.inference = "per_batch"  # the teacher's features are needed on every batch


def teach(est: Any, plan: FitPlan) -> None:
    """The teacher step: fit unfitted teachers' clones, compute the teacher's outputs.

    Sets ``teacher_``, ``teacher_score_`` and ``teacher_scores_``. With cached
    hints, the pass that gives the teacher's outputs records its features too.
    """
    est.teacher_ = None
    est.teacher_score_ = None
    est.teacher_scores_ = None
    hints = plan.hint_plan if plan.cache_hints else None
    recording = capture_features(hints.teacher_modules()) if hints else nullcontext()
    with recording as records:
        plan.outputs = _soft_targets(est, plan)
    if hints is not None:
        plan.features = hints.recorded_features(records, len(plan.X))
        if plan.features is None:  # the teacher did not run on every row once
            plan.features = hints.all_teacher_features(
                plan.X, est._teacher_batch_size())


def _soft_targets(est: Any, plan: FitPlan) -> TeacherOutputs | None:
    """The teacher's outputs as the student trains on them; None without a soft term."""
    if est._setting("alpha") == 1 or (plan.given is None and est.teacher is None):
        return None  # no soft term: the teacher is neither fitted nor queried
    if plan.given is not None:
        outputs = est._given_outputs(plan)
    else:
        outputs = est._queried_outputs(plan)
        est.teacher_ = outputs.fitted
        est.teacher_scores_ = outputs.member_scores
    est.teacher_score_ = outputs.score
    return est._trained_outputs(outputs, plan.y_enc)


def build_or_continue_net(est: Any, plan: FitPlan) -> None:
    """The net that trains the student: the fitted one continued (warm start), or a new one.

    A new student first learns its data-aware encoding (if it has one) from
    the training rows, without the transfer rows.
    """
    net_params = _net_params(est, plan)
    if plan.continuing:
        plan.net = est.net_
        plan.net.set_params(max_epochs=est._setting("max_epochs"),
                            batch_size=est._setting("batch_size"), verbose=est.verbose,
                            **net_params)
        if est._setting("lr") != plan.net.lr:
            plan.net.set_params(lr=est._setting("lr"))
        return
    n_rows = plan.n_rows
    encoding = est._fit_encoding(plan.X[:n_rows], plan.y_enc[:n_rows], plan.outputs, n_rows)
    plan.net = est._build_net(plan.X.shape[1], est._n_outputs(), net_params, encoding)
    plan.net.fitted_encoding = encoding
    plan.net.built_with = est._build_params()


def _net_params(est: Any, plan: FitPlan) -> dict[str, Any]:
    """The net's parameters that this fit sets: the loss's, the teacher's, the hints'."""
    outputs, batch = plan.outputs, kind_of(plan.augmentation).batch
    return {
        "alpha": est._setting("alpha"),
        **est._soft_loss_params(),
        "soft_loss": plan.soft_loss if outputs is not None else None,
        "loss_name": plan.loss_name,
        "loss_options": est._params_with("loss__"),
        "online_teacher": outputs.per_batch if outputs is not None else None,
        "augmentation": plan.augmentation if batch else None,
        "hint_plan": plan.hint_plan,
        "mixed_precision": est.mixed_precision,
        "accelerator": est.accelerator,
        # a batch augmentation may make rows without a label (mixup does)
        "has_unlabeled": bool((~est._labeled(plan.y_enc)).any()) or batch,
        "fresh_transfer": None if plan.fresh is None else est._label_fresh(plan.fresh, outputs),
    }


def assemble_inputs(est: Any, plan: FitPlan) -> None:
    """The net's ``X``: the rows alone, or a dict of them and the teacher's outputs, the
    teacher's hint features and the rows' weights."""
    parts: dict[str, Any] = {}
    if plan.outputs is not None and plan.outputs.values is not None:
        parts[TEACHER_KEY] = plan.outputs.values
    if plan.features is not None:
        parts.update({HINT_KEY.format(i): f for i, f in enumerate(plan.features)})
    weights = est._student_weights(plan.weights, plan.y_enc)
    if weights is not None:
        parts[WEIGHT_KEY] = weights
    plan.X_fit = {INPUT_KEY: plan.X, **parts} if parts else plan.X


def seed(est: Any, plan: FitPlan) -> None:
    """Torch's random state for training: seeded by ``random_state``, or the one a warm
    start continues."""
    resume = est._torch_random_state if plan.continuing else None
    plan.random_state = RandomState(est.random_state, est._device(), resume=resume)
