"""Built-in student/teacher architectures, registered through the model hook.

Every model takes flat float rows ``(batch, n_features)``, so it works after
any scikit-learn transformer, and returns ``(batch, n_classes)`` logits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def guess_image_shape(n_features: int, option: str = "module__input_shape") -> tuple[int, ...]:
    """``(channels, side, side)`` of a flat row of a square 1- or 3-channel image.

    Parameters
    ----------
    n_features : int
        The length of a flat row.
    option : str, default="module__input_shape"
        The parameter the error message tells the user to pass instead.

    Returns
    -------
    tuple of int
        ``(1, side, side)`` when ``n_features`` is a square, else
        ``(3, side, side)``.

    Raises
    ------
    ValueError
        If no such shape holds ``n_features`` values; names ``option``.
    """
    for channels in (1, 3):
        side = math.isqrt(n_features // channels)
        if channels * side * side == n_features:
            return (channels, side, side)
    raise ValueError(
        f"Cannot guess the image shape of {n_features} features; pass "
        f"{option}=(channels, height, width)."
    )


class _MaxPoolSame(nn.Module):
    """2x2 max pooling with stride 1 and Keras' ``padding="same"`` (pad right/bottom)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The max of four shifted views equals max_pool2d(2, stride=1) on the
        # padded input. Measured on a 2-core CPU: it halves the teacher's inference
        # pass (no index bookkeeping), but its backward makes a student's training
        # epoch ~20 % slower than max_pool2d's (benchmarks/results, issue notes).
        x = F.pad(x, (0, 1, 0, 1), value=float("-inf"))
        rows = torch.maximum(x[..., :-1, :], x[..., 1:, :])
        return torch.maximum(rows[..., :-1], rows[..., 1:])


class KerasExampleCNN(nn.Module):
    """The CNN of the Keras "Knowledge Distillation" example.

    ``Conv(f1, 3x3, stride 2, same) -> LeakyReLU(0.2) -> MaxPool(2x2, stride 1, same)
    -> Conv(f2, 3x3, stride 2, same) -> Flatten -> Linear(n_classes)``.
    The teacher uses 256/512 filters, the student 16/32.

    Parameters
    ----------
    n_features : int
        Input width; must equal ``prod(input_shape)``.
    n_classes : int
        Number of output logits.
    filters : tuple of int, default=(16, 32)
        Filters of the two convolutions.
    input_shape : tuple of int, default=(1, 28, 28)
        ``(channels, height, width)`` that each flat row is reshaped to.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        filters: Sequence[int] = (16, 32),
        input_shape: Sequence[int] = (1, 28, 28),
    ) -> None:
        super().__init__()
        channels, height, width = (int(v) for v in input_shape)
        if channels * height * width != n_features:
            raise ValueError(
                f"input_shape={tuple(input_shape)} holds {channels * height * width} "
                f"values but X has {n_features} features; pass module__input_shape "
                "matching your rows, e.g. (1, 28, 28) for 784 pixels."
            )
        self.input_shape = (channels, height, width)
        f1, f2 = (int(v) for v in filters)
        self.features = nn.Sequential(
            nn.Conv2d(channels, f1, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            _MaxPoolSame(),
            nn.Conv2d(f1, f2, 3, stride=2, padding=1),
            nn.Flatten(),
        )
        out_h = (height + 1) // 2
        out_w = (width + 1) // 2
        self.head = nn.Linear(f2 * ((out_h + 1) // 2) * ((out_w + 1) // 2), n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of a batch of images.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Flat float rows, each reshaped to ``input_shape``.

        Returns
        -------
        torch.Tensor of shape (batch, n_classes)
        """
        return self.head(self.features(x.reshape(-1, *self.input_shape)))


def cnn_teacher(
    n_features: int, n_classes: int, input_shape: Sequence[int] = (1, 28, 28)
) -> KerasExampleCNN:
    """The Keras example's teacher: 256 and 512 filters.

    Parameters
    ----------
    n_features : int
        Input width; must equal ``prod(input_shape)``.
    n_classes : int
        Number of output logits.
    input_shape : tuple of int, default=(1, 28, 28)
        ``(channels, height, width)`` that each flat row is reshaped to; e.g.
        ``(1, 8, 8)`` for scikit-learn's digits.

    Returns
    -------
    KerasExampleCNN
        With 256 and 512 filters, randomly initialised.
    """
    return KerasExampleCNN(n_features, n_classes, filters=(256, 512), input_shape=input_shape)


def cnn_student(
    n_features: int, n_classes: int, input_shape: Sequence[int] = (1, 28, 28)
) -> KerasExampleCNN:
    """The Keras example's student: 16 and 32 filters.

    Parameters
    ----------
    n_features : int
        Input width; must equal ``prod(input_shape)``.
    n_classes : int
        Number of output logits.
    input_shape : tuple of int, default=(1, 28, 28)
        ``(channels, height, width)`` that each flat row is reshaped to; e.g.
        ``(1, 8, 8)`` for scikit-learn's digits.

    Returns
    -------
    KerasExampleCNN
        With 16 and 32 filters, randomly initialised.
    """
    return KerasExampleCNN(n_features, n_classes, filters=(16, 32), input_shape=input_shape)
