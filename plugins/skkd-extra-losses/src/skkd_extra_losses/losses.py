"""DKD and DIST knowledge-distillation losses (the *soft* term only).

Both follow the contract of :func:`skkd.hookspecs.skkd_register_losses`::

    fn(student_logits, teacher_logits, *, temperature, y=None, **options) -> scalar

with logits shaped ``(batch, n_classes)``. The estimator adds
``alpha * cross_entropy`` itself; the loss-specific options are the
``loss__*`` parameters of ``DistilledClassifier``. Each function accepts only
its documented options, so a misspelt ``loss__*`` parameter raises
:class:`TypeError` instead of being silently ignored.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["decoupled_kd", "dist", "pearson"]

#: Floor of the Pearson denominator; see :func:`pearson`.
PEARSON_EPS = 1e-8


def _check_logits(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> None:
    if student_logits.ndim != 2:
        raise ValueError(
            f"student_logits must be shaped (batch, n_classes), got {tuple(student_logits.shape)}"
        )
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f"teacher_logits {tuple(teacher_logits.shape)} and student_logits "
            f"{tuple(student_logits.shape)} must have the same shape"
        )


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")


def _kl_from_log_probs(log_p_teacher: torch.Tensor, log_p_student: torch.Tensor) -> torch.Tensor:
    """``sum_j p_t[i, j] * (log p_t[i, j] - log p_s[i, j])``, one value per row."""
    return F.kl_div(log_p_student, log_p_teacher, reduction="none", log_target=True).sum(dim=1)


def _split_target(
    logits: torch.Tensor, target_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the target logit ``(batch, 1)`` and the non-target logits ``(batch, C - 1)``."""
    batch, n_classes = logits.shape
    target = logits[target_mask].view(batch, 1)
    others = logits[~target_mask].view(batch, n_classes - 1)
    return target, others


def _dkd_parts(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    y: torch.Tensor,
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample TCKD and NCKD (no ``T**2`` factor, no reduction)."""
    n_classes = student_logits.shape[1]
    target_mask = F.one_hot(y, n_classes).bool()
    log_binary, log_non_target = [], []
    for logits in (teacher_logits, student_logits):
        target, others = _split_target(logits / temperature, target_mask)
        # log [p_target, 1 - p_target] = log_softmax([z_target, logsumexp(z_others)]):
        # exact and finite however large the logits are.
        rest = torch.logsumexp(others, dim=1, keepdim=True)
        log_binary.append(F.log_softmax(torch.cat([target, rest], dim=1), dim=1))
        log_non_target.append(F.log_softmax(others, dim=1))
    tckd = _kl_from_log_probs(*log_binary)
    nckd = _kl_from_log_probs(*log_non_target)
    return tckd, nckd


def _as_labels(y: object, student_logits: torch.Tensor) -> torch.Tensor:
    labels = torch.as_tensor(y, device=student_logits.device)
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"dkd needs integer class labels y, got dtype {labels.dtype}")
    labels = labels.long().reshape(-1)
    batch, n_classes = student_logits.shape
    if labels.numel() != batch:
        raise ValueError(f"dkd got {labels.numel()} labels for a batch of {batch} logits")
    if labels.numel() and (labels.min() < -1 or labels.max() >= n_classes):
        raise ValueError(
            f"dkd labels must lie in [0, {n_classes}) (or be -1: no label), got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    return labels


def decoupled_kd(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float,
    y: torch.Tensor | None = None,
    dkd_alpha: float = 1.0,
    beta: float = 8.0,
) -> torch.Tensor:
    r"""Decoupled Knowledge Distillation (DKD), registered as ``"dkd"``.

    Classical KD is split into a target-class part (TCKD) and a non-target-class
    part (NCKD), which are then weighted independently:

    .. math::

        \mathrm{DKD} = T^2 \cdot \frac{1}{N} \sum_{i=1}^{N}
            \bigl(\alpha_{\mathrm{dkd}}\, \mathrm{TCKD}_i + \beta\, \mathrm{NCKD}_i\bigr)

    with, for sample :math:`i` of label :math:`t`, :math:`p = \mathrm{softmax}(z / T)`,

    .. math::

        \mathrm{TCKD}_i = \mathrm{KL}\bigl(b^{\mathcal{T}} \,\|\, b^{\mathcal{S}}\bigr),
        \qquad b = [p_t,\; 1 - p_t],

        \mathrm{NCKD}_i = \mathrm{KL}\bigl(\hat p^{\mathcal{T}} \,\|\, \hat p^{\mathcal{S}}\bigr),
        \qquad \hat p_j = \frac{p_j}{1 - p_t}
            = \mathrm{softmax}_{j \ne t}(z_j / T),

    where :math:`\mathcal{T}` is the teacher and :math:`\mathcal{S}` the student.
    Classical KD decomposes as :math:`\mathrm{KD} = \mathrm{TCKD} +
    (1 - p^{\mathcal{T}}_t)\,\mathrm{NCKD}` (the paper's Eq. 1); DKD replaces the
    teacher-confidence-dependent weight :math:`1 - p^{\mathcal{T}}_t` by the constant
    :math:`\beta`.

    Parameters
    ----------
    student_logits, teacher_logits : torch.Tensor
        Logits shaped ``(batch, n_classes)`` with ``n_classes >= 2``.
    temperature : float
        Softmax temperature ``T > 0``, applied to both parts; the sum is scaled by
        ``T**2``, as in the authors' code.
    y : torch.Tensor
        Ground-truth class indices shaped ``(batch,)`` (integers). Required.
    dkd_alpha : float, default=1.0
        Weight of TCKD (the paper's :math:`\alpha`; renamed so it is not confused
        with the estimator's ``alpha``, the cross-entropy weight).
    beta : float, default=8.0
        Weight of NCKD (the paper's :math:`\beta`; 8.0 is its CIFAR-100 default,
        ImageNet used 0.5).

    Returns
    -------
    torch.Tensor
        Scalar loss, averaged over the batch (``batchmean``).

    Raises
    ------
    ValueError
        If ``y`` is None or is not one valid class index per sample, if the shapes
        disagree, if ``n_classes < 2`` or if ``temperature <= 0``.

    Notes
    -----
    Non-target probabilities are computed by dropping the target logit before the
    softmax, and ``log(1 - p_t)`` as ``logsumexp(others) - logsumexp(all)``, so
    the loss and its gradients are finite for logits of any magnitude. (The
    authors' code subtracts ``1000`` from the target logit instead, which is not
    enough once ``|z| / T`` exceeds about 1000.)

    The paper's linear warm-up of the DKD term over the first epochs is a
    training schedule, not part of the loss, and is not applied here.

    References
    ----------
    B. Zhao, Q. Cui, R. Song, Y. Qiu and J. Liang, "Decoupled Knowledge
    Distillation", CVPR 2022, pp. 11953-11962. arXiv:2203.08679.
    """
    if y is None:
        raise ValueError(
            "The 'dkd' loss needs labels: it splits the distillation term at the "
            "target class, so pass y (the ground-truth class indices)."
        )
    _check_logits(student_logits, teacher_logits)
    _check_temperature(temperature)
    if student_logits.shape[1] < 2:
        raise ValueError("dkd needs at least 2 classes")
    labels = _as_labels(y, student_logits)
    # A row without a label (-1: unlabeled or generated) splits at the teacher's top class.
    labels = torch.where(labels < 0, teacher_logits.argmax(dim=1), labels)
    tckd, nckd = _dkd_parts(student_logits, teacher_logits, labels, temperature)
    return (dkd_alpha * tckd + beta * nckd).mean() * temperature**2


def pearson(a: torch.Tensor, b: torch.Tensor, eps: float = PEARSON_EPS) -> torch.Tensor:
    r"""Row-wise Pearson correlation of two ``(n, d)`` tensors, shape ``(n,)``.

    .. math::

        \rho(a, b) = \frac{\langle a - \bar a,\; b - \bar b\rangle}
            {\max\bigl(\lVert a - \bar a\rVert\,\lVert b - \bar b\rVert,\; \epsilon\bigr)}

    The floor :math:`\epsilon` keeps constant rows finite: a row with zero
    variance correlates 0 with anything (including another constant row), and
    the gradient stays finite. Unlike adding :math:`\epsilon` to the denominator
    (as the DIST authors' code does), the floor leaves the value exact whenever
    the product of norms exceeds :math:`\epsilon`.
    """
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    norms = torch.linalg.vector_norm(a, dim=1) * torch.linalg.vector_norm(b, dim=1)
    return (a * b).sum(dim=1) / norms.clamp_min(eps)


def dist(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float,
    y: torch.Tensor | None = None,
    beta: float = 1.0,
    gamma: float = 1.0,
) -> torch.Tensor:
    r"""DIST: distillation from a stronger teacher, registered as ``"dist"``.

    Matches the *relations* between predictions instead of their exact values,
    with Pearson correlation :math:`\rho` as the similarity. With
    :math:`P^{\mathcal{S}} = \mathrm{softmax}(z^{\mathcal{S}} / T)` and
    :math:`P^{\mathcal{T}} = \mathrm{softmax}(z^{\mathcal{T}} / T)`, both
    ``(N, C)``:

    .. math::

        \mathcal{L}_{\mathrm{inter}} = \frac{1}{N} \sum_{i=1}^{N}
            \bigl(1 - \rho(P^{\mathcal{S}}_{i,:}, P^{\mathcal{T}}_{i,:})\bigr),
        \qquad
        \mathcal{L}_{\mathrm{intra}} = \frac{1}{C} \sum_{c=1}^{C}
            \bigl(1 - \rho(P^{\mathcal{S}}_{:,c}, P^{\mathcal{T}}_{:,c})\bigr),

        \mathrm{DIST} = T^2 \bigl(\beta\, \mathcal{L}_{\mathrm{inter}}
            + \gamma\, \mathcal{L}_{\mathrm{intra}}\bigr).

    The inter-class term compares, per sample, how the classes are ranked; the
    intra-class term compares, per class, how the samples of the batch are
    ranked, so it depends on the whole batch.

    Parameters
    ----------
    student_logits, teacher_logits : torch.Tensor
        Logits shaped ``(batch, n_classes)``.
    temperature : float
        Softmax temperature ``T > 0``. The ``T**2`` factor follows the authors'
        code (their default is ``T = 1``, where it is 1).
    y : torch.Tensor, optional
        Ignored; DIST needs no labels.
    beta : float, default=1.0
        Weight of the inter-class (per-sample) relation term.
    gamma : float, default=1.0
        Weight of the intra-class (per-class, across the batch) relation term.

    Returns
    -------
    torch.Tensor
        Scalar loss in ``[0, 2 * (beta + gamma) * T**2]`` for non-negative
        weights; 0 when both sides give the same probabilities and every compared
        row and column varies.

    Raises
    ------
    ValueError
        If the shapes disagree or ``temperature <= 0``.

    Notes
    -----
    Pearson correlation uses :func:`pearson`, whose denominator is floored at
    ``1e-8``. A row or column with no variation correlates 0, so it contributes
    a constant 1 to its term with zero gradient; in particular a batch of one
    sample makes the intra-class term exactly ``gamma * T**2``, a constant.

    References
    ----------
    T. Huang, S. You, F. Wang, C. Qian and C. Xu, "Knowledge Distillation from
    A Stronger Teacher", NeurIPS 2022. arXiv:2205.10536.
    """
    _check_logits(student_logits, teacher_logits)
    _check_temperature(temperature)
    p_student = F.softmax(student_logits / temperature, dim=1)
    p_teacher = F.softmax(teacher_logits / temperature, dim=1)
    inter = (1.0 - pearson(p_student, p_teacher)).mean()
    intra = (1.0 - pearson(p_student.T, p_teacher.T)).mean()
    return (beta * inter + gamma * intra) * temperature**2
