"""Built-in knowledge-distillation losses (the *soft* term only).

Each loss follows the contract of :func:`skkd.hookspecs.skkd_register_losses`:
``fn(student_logits, teacher_logits, *, temperature, y=None, sample_weight=None)
-> scalar``. The estimator combines it as
``alpha * cross_entropy(student, y) + (1 - alpha) * fn(...)``.

The temperature-scaled losses are computed in float64 (float32 on devices
without it): in float32, ``KL * T**2`` loses the digits that matter once the
two distributions are close or ``T`` is large (at ``T = 1e4`` it even goes
negative); in float64 it stays exact over the temperatures the estimator
accepts (``skkd.estimators._params.TEMPERATURE_RANGE``), for a cost that is negligible
next to the student's forward pass (one value per class and row).
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from skkd.hookspecs import hookimpl


def _scaled_log_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log_softmax(logits / T)`` in float64 where the device has it."""
    wide = logits if logits.device.type == "mps" else logits.double()
    return F.log_softmax(wide / temperature, dim=1)


def weighted_mean(per_row: torch.Tensor, sample_weight: torch.Tensor | None) -> torch.Tensor:
    """The batch mean of ``per_row``, or ``sum(sample_weight * per_row)``.

    Parameters
    ----------
    per_row : torch.Tensor of shape (batch,)
        A loss per row.
    sample_weight : torch.Tensor of shape (batch,) or None
        The rows' weights, as a loss receives them (the contract of
        :func:`skkd.hookspecs.skkd_register_losses`): non-negative, summing to 1
        over the batch (0 when every row of the batch weighs 0).

    Returns
    -------
    torch.Tensor
        A scalar.
    """
    if sample_weight is None:
        return per_row.mean()
    return (per_row * sample_weight.to(per_row.dtype)).sum()


def _as_output_dtype(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The loss in the logits' dtype, at least float32 (a bf16 student's loss stays float32)."""
    return value.to(torch.promote_types(like.dtype, torch.float32))


def kl_divergence(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float,
    y: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hinton et al. (2015): ``KL(softmax(t/T) || softmax(s/T)) * T**2``.

    Both distributions are taken through ``log_softmax``, in float64, so the
    value stays finite for logits of any magnitude and exact (never negative)
    for close distributions and large temperatures; reduced as ``batchmean``.

    Parameters
    ----------
    student_logits : torch.Tensor of shape (batch, n_classes)
        The student's logits; the gradient flows through them.
    teacher_logits : torch.Tensor of shape (batch, n_classes)
        The teacher's logits (log-probabilities are logits too), without gradient.
    temperature : float
        The softmax temperature ``T``.
    y : torch.Tensor or None, default=None
        The encoded labels, -1 for rows without one; not used by this loss.
    sample_weight : torch.Tensor of shape (batch,) or None, default=None
        Row weights summing to 1: the rows' losses are summed with these
        weights instead of averaged.

    Returns
    -------
    torch.Tensor
        A scalar: the soft term, which the estimator weights by ``1 - alpha``.

    Examples
    --------
    >>> import torch
    >>> from skkd.losses import kl_divergence
    >>> s = torch.tensor([[2.0, 0.0, -1.0]])
    >>> float(kl_divergence(s, s, temperature=4.0))
    0.0
    >>> float(kl_divergence(s, torch.zeros(1, 3), temperature=1.0)) > 0
    True
    """
    log_p_teacher = _scaled_log_probs(teacher_logits, temperature)
    log_p_student = _scaled_log_probs(student_logits, temperature)
    if sample_weight is None:
        # "batchmean" is a sum, then a division: the division folds into T**2's product
        kl = F.kl_div(log_p_student, log_p_teacher, reduction="sum", log_target=True)
        rows = student_logits.shape[0]
        scale = temperature**2 / rows if rows else math.nan
    else:
        kl = weighted_mean(F.kl_div(log_p_student, log_p_teacher, reduction="none",
                                    log_target=True).sum(1), sample_weight)
        scale = temperature**2
    # rounding must not make a divergence negative
    return _as_output_dtype(kl.clamp_min(0) * scale, student_logits)


def soft_cross_entropy(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float,
    y: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy of the student against the softened teacher, times ``T**2``.

    Differs from ``"kl"`` by the teacher's entropy, a constant for the
    student, so the gradients are the same.

    Parameters
    ----------
    student_logits : torch.Tensor of shape (batch, n_classes)
        The student's logits; the gradient flows through them.
    teacher_logits : torch.Tensor of shape (batch, n_classes)
        The teacher's logits (log-probabilities are logits too), without gradient.
    temperature : float
        The softmax temperature ``T``.
    y : torch.Tensor or None, default=None
        The encoded labels, -1 for rows without one; not used by this loss.
    sample_weight : torch.Tensor of shape (batch,) or None, default=None
        Row weights summing to 1: the rows' losses are summed with these
        weights instead of averaged.

    Returns
    -------
    torch.Tensor
        A scalar: the soft term, which the estimator weights by ``1 - alpha``.
    """
    p_teacher = _scaled_log_probs(teacher_logits, temperature).exp()
    log_p_student = _scaled_log_probs(student_logits, temperature)
    per_row = -(p_teacher * log_p_student).sum(dim=1)
    return _as_output_dtype(weighted_mean(per_row, sample_weight) * temperature**2,
                            student_logits)


def logit_mse(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float | None = None,
    y: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Ba & Caruana (2014): mean squared error between the raw logits.

    ``temperature`` does not enter this loss, so it is also a regression loss
    (``DistilledRegressor``'s default): the squared error between the
    student's and the teacher's standardized predictions.

    Parameters
    ----------
    student_logits : torch.Tensor of shape (batch, n_classes)
        The student's logits; the gradient flows through them.
    teacher_logits : torch.Tensor of shape (batch, n_classes)
        The teacher's logits (log-probabilities are logits too), without gradient.
    temperature : float or None, default=None
        The softmax temperature ``T``; not used by this loss.
    y : torch.Tensor or None, default=None
        The encoded labels, -1 for rows without one; not used by this loss.
    sample_weight : torch.Tensor of shape (batch,) or None, default=None
        Row weights summing to 1: the rows' losses are summed with these
        weights instead of averaged.

    Returns
    -------
    torch.Tensor
        A scalar: the soft term, which the estimator weights by ``1 - alpha``.
    """
    per_row = (student_logits - teacher_logits.to(student_logits.dtype)).square().mean(dim=1)
    return weighted_mean(per_row, sample_weight)


def huber(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float | None = None,
    y: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    delta: float = 1.0,
) -> torch.Tensor:
    """Huber loss between the student's and the teacher's outputs (or logits).

    Quadratic within ``delta`` of the teacher, linear beyond, so a teacher's
    outliers pull less than with ``"mse"``. A regression loss (no
    temperature); for a classifier, it matches logits as ``"mse"`` does.

    Parameters
    ----------
    student_logits : torch.Tensor of shape (batch, n_outputs)
        The student's outputs; the gradient flows through them.
    teacher_logits : torch.Tensor of shape (batch, n_outputs)
        The teacher's outputs, without gradient.
    temperature : float or None, default=None
        Not used by this loss.
    y : torch.Tensor or None, default=None
        The targets; not used by this loss.
    sample_weight : torch.Tensor of shape (batch,) or None, default=None
        Row weights summing to 1: the rows' losses are summed with these
        weights instead of averaged.
    delta : float, default=1.0
        Where the loss turns from quadratic to linear (``loss__delta``), in
        the standardized units the regressor trains in: a finite number > 0.

    Returns
    -------
    torch.Tensor
        A scalar: the soft term, which the estimator weights by ``1 - alpha``.

    Raises
    ------
    ValueError
        If ``delta`` is not a finite real number > 0 (the message names
        ``loss__delta``).
    """
    if not (isinstance(delta, numbers.Real) and not isinstance(delta, bool)
            and math.isfinite(delta) and delta > 0):
        raise ValueError(f"loss__delta must be a finite number > 0 (where the huber loss turns "
                         f"from quadratic to linear, in standardized units); got {delta!r}.")
    per_row = F.huber_loss(student_logits, teacher_logits.to(student_logits.dtype),
                           reduction="none", delta=delta).mean(dim=1)
    return weighted_mean(per_row, sample_weight)


@hookimpl
def skkd_register_losses(register):
    register("kl", kl_divergence)
    register("soft_ce", soft_cross_entropy)
    register("mse", logit_mse)
    register("huber", huber)
