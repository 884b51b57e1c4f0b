"""Built-in knowledge-distillation losses (the *soft* term only).

Each loss follows the contract of :func:`skkd.hookspecs.skkd_register_losses`:
``fn(student_logits, teacher_logits, *, temperature, y=None) -> scalar``.
The estimator combines it as
``alpha * cross_entropy(student, y) + (1 - alpha) * fn(...)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from skkd.hookspecs import hookimpl


def kl_divergence(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float,
    y: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hinton et al. (2015): ``KL(softmax(t/T) || softmax(s/T)) * T**2``.

    Both distributions are taken through ``log_softmax``, so the value stays
    finite for logits of any magnitude; reduced as ``batchmean``.

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
    log_p_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return kl * temperature**2


def soft_cross_entropy(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float,
    y: torch.Tensor | None = None,
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

    Returns
    -------
    torch.Tensor
        A scalar: the soft term, which the estimator weights by ``1 - alpha``.
    """
    p_teacher = F.softmax(teacher_logits / temperature, dim=1)
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    return -(p_teacher * log_p_student).sum(dim=1).mean() * temperature**2


def logit_mse(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float,
    y: torch.Tensor | None = None,
) -> torch.Tensor:
    """Ba & Caruana (2014): mean squared error between the raw logits.

    ``temperature`` does not enter this loss.

    Parameters
    ----------
    student_logits : torch.Tensor of shape (batch, n_classes)
        The student's logits; the gradient flows through them.
    teacher_logits : torch.Tensor of shape (batch, n_classes)
        The teacher's logits (log-probabilities are logits too), without gradient.
    temperature : float
        The softmax temperature ``T``; not used by this loss.
    y : torch.Tensor or None, default=None
        The encoded labels, -1 for rows without one; not used by this loss.

    Returns
    -------
    torch.Tensor
        A scalar: the soft term, which the estimator weights by ``1 - alpha``.
    """
    return F.mse_loss(student_logits, teacher_logits)


@hookimpl
def skkd_register_losses(register):
    register("kl", kl_divergence)
    register("soft_ce", soft_cross_entropy)
    register("mse", logit_mse)
