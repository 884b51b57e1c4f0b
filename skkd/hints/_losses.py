"""The built-in hint losses: a student feature against the teacher's.

- ``"fitnets"``: Romero et al. (2015), *FitNets: Hints for Thin Deep Nets*:
  the mean squared error between the adapted student feature and the teacher's.
- ``"at"``: Zagoruyko & Komodakis (2017), *Paying More Attention to
  Attention*: the squared distance between normalised spatial attention maps;
  no adapter is needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fitnets(student_feature: torch.Tensor, teacher_feature: torch.Tensor) -> torch.Tensor:
    """Romero et al. (2015), FitNets: mean squared error between features.

    The student feature arrives already adapted to the teacher's shape (a 1x1
    convolution or a linear layer, trained with the student, when the widths
    differ). The mean is over every element (batch, channels, positions); the
    paper's ``1/2 * ||.||**2`` differs by a constant factor, absorbed by
    ``hint_weight``.

    Parameters
    ----------
    student_feature : torch.Tensor
        The (adapted) student feature; the gradient flows through it.
    teacher_feature : torch.Tensor
        The teacher feature, same shape, without gradient.

    Returns
    -------
    torch.Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> float(fitnets(torch.ones(2, 3), torch.zeros(2, 3)))
    1.0
    """
    return F.mse_loss(student_feature, teacher_feature)


def attention_map(feature: torch.Tensor, p: float = 2.0,
                  size: tuple[int, int] | None = None) -> torch.Tensor:
    """The normalised spatial attention map of a feature, one row per sample.

    For a 4-D feature ``(N, C, H, W)``: ``mean over C of |f|**p``, resized to
    ``size`` by adaptive average pooling when given and different, flattened
    to ``(N, H*W)``, then divided by its L2 norm per sample. A 2-D feature
    ``(N, D)`` is its own map: it is only L2-normalised per sample.

    Parameters
    ----------
    feature : torch.Tensor of shape (N, C, H, W) or (N, D)
        A feature.
    p : float, default=2.0
        The power of ``|f|`` (the paper's ``p = 2``).
    size : tuple of int or None, default=None
        ``(H, W)`` of the map of a 4-D feature; None keeps the feature's.

    Returns
    -------
    torch.Tensor of shape (N, H*W) or (N, D)
        Unit-norm rows (all-zero rows stay zero).
    """
    if feature.ndim == 4:
        energy = feature.abs().pow(p).mean(dim=1, keepdim=True)
        if size is not None and tuple(energy.shape[-2:]) != tuple(size):
            energy = F.adaptive_avg_pool2d(energy, size)
        feature = energy.flatten(1)
    elif feature.ndim != 2:
        raise ValueError(
            f"Attention transfer needs 4-D (N, C, H, W) or 2-D (N, D) features; got shape "
            f"{tuple(feature.shape)}."
        )
    return F.normalize(feature, p=2.0, dim=1)


def attention_transfer(student_feature: torch.Tensor, teacher_feature: torch.Tensor,
                       *, p: float = 2.0) -> torch.Tensor:
    """Zagoruyko & Komodakis (2017), attention transfer.

    ``mean over the batch of ||a(s) - a(t)||**2``, where ``a`` is
    :func:`attention_map` (channel mean of ``|f|**p``, flattened, L2-normalised
    per sample). The paper's code averages over positions too and scales by
    ``beta / 2 = 500``; here the squared distance is summed over positions
    (a value in ``[0, 4]``), so ``hint_weight`` of order 1 to 1000 is usual.
    Channel counts may differ (no adapter). When the spatial sizes of 4-D
    features differ, the student's map is resized to the teacher's by adaptive
    average pooling before normalising. 2-D features must have the same width.

    Parameters
    ----------
    student_feature : torch.Tensor of shape (N, C_s, H_s, W_s) or (N, D)
        The student feature; the gradient flows through it.
    teacher_feature : torch.Tensor of shape (N, C_t, H_t, W_t) or (N, D)
        The teacher feature, without gradient.
    p : float, default=2.0
        The power of ``|f|`` in the attention map.

    Returns
    -------
    torch.Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> f = torch.randn(2, 3, 4, 4)
    >>> round(float(attention_transfer(f, 5 * f.repeat(1, 2, 1, 1))), 6)  # same map
    0.0
    """
    if student_feature.ndim == 4 and teacher_feature.ndim == 4:
        s_map = attention_map(student_feature, p, size=tuple(teacher_feature.shape[-2:]))
        t_map = attention_map(teacher_feature, p)
    elif student_feature.ndim == 2 and teacher_feature.ndim == 2:
        if student_feature.shape[1] != teacher_feature.shape[1]:
            raise ValueError(
                f"Attention transfer between 2-D features needs equal widths; got "
                f"{student_feature.shape[1]} (student) and {teacher_feature.shape[1]} (teacher)."
            )
        s_map, t_map = attention_map(student_feature, p), attention_map(teacher_feature, p)
    else:
        raise ValueError(
            f"Attention transfer needs two 4-D or two 2-D features; got shapes "
            f"{tuple(student_feature.shape)} and {tuple(teacher_feature.shape)}."
        )
    return (s_map - t_map).pow(2).sum(dim=1).mean()


#: A hint loss with ``adapter = False`` compares features of any width itself.
attention_transfer.adapter = False  # type: ignore[attr-defined]
