"""The multi-layer perceptron student, ``module="mlp"`` (also the body of ``"tabular-mlp"``)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def _layer_sizes(hidden_sizes: Any) -> list[int]:
    """``hidden_sizes`` as a list of widths, or a ValueError naming ``module__hidden_sizes``."""
    ok = not isinstance(hidden_sizes, str | bytes)
    try:
        sizes = list(hidden_sizes) if ok else []
    except TypeError:
        ok = False
    ok = ok and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
                    for v in sizes)
    if not ok:
        raise ValueError(
            "module__hidden_sizes must be a sequence of integer layer widths >= 1, e.g. "
            f"(64, 64), or () for none; got {hidden_sizes!r}."
        )
    return [int(v) for v in sizes]


class MLP(nn.Module):
    """A multilayer perceptron: ``Linear -> ReLU [-> Dropout]`` blocks, then a linear head.

    Parameters
    ----------
    n_features : int
        Input width.
    n_classes : int
        Number of output logits.
    hidden_sizes : sequence of int, default=(128,)
        Width of each hidden layer; ``()`` gives multinomial logistic regression.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden_sizes: Sequence[int] = (128,),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = _layer_sizes(hidden_sizes)
        if not (isinstance(dropout, int | float) and 0 <= dropout < 1):
            raise ValueError(f"module__dropout must be a number in [0, 1); got {dropout!r}.")
        layers: list[nn.Module] = []
        width = n_features
        for size in sizes:
            layers += [nn.Linear(width, int(size)), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(size)
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of a batch of rows.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Float rows.

        Returns
        -------
        torch.Tensor of shape (batch, n_classes)
        """
        return self.layers(x)
