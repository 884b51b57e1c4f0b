"""torchvision's classification architectures as students or teachers.

``module="torchvision:resnet18"`` builds ``torchvision.models.get_model("resnet18",
weights=None, num_classes=n_classes)`` behind a reshaping stem, so it takes
flat rows like every skkd model. Pretrained weights are never downloaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from skkd.models._cnn import guess_image_shape


class TorchvisionClassifier(nn.Module):
    """Flat rows -> ``(C, H, W)`` images -> 3 channels -> a torchvision classifier.

    One channel is repeated to three; any other count other than three goes
    through a learned 1x1 convolution.

    Parameters
    ----------
    network : torch.nn.Module
        A torchvision classification model taking ``(batch, 3, H, W)`` images.
    input_shape : sequence of int
        ``(channels, height, width)`` that each flat row is reshaped to.
    """

    def __init__(self, network: nn.Module, input_shape: Sequence[int]) -> None:
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        channels = self.input_shape[0]
        self.stem = None if channels in (1, 3) else nn.Conv2d(channels, 3, kernel_size=1)
        self.network = network

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
        x = x.reshape(-1, *self.input_shape)
        if self.stem is not None:
            x = self.stem(x)
        elif x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.network(x)


def torchvision_model(
    n_features: int,
    n_classes: int,
    *,
    name: str,
    input_shape: Sequence[int] | None = None,
    **kwargs: Any,
) -> TorchvisionClassifier:
    """Build torchvision model ``name`` with random weights for ``n_classes`` classes.

    Parameters
    ----------
    n_features, n_classes : int
        Width of the flat input rows and number of output logits.
    name : str
        A torchvision classification model (``torchvision.models.list_models``).
    input_shape : tuple of int, optional
        ``(channels, height, width)``; guessed for square 1- or 3-channel images.
    **kwargs
        Passed to ``torchvision.models.get_model`` (not ``weights``).

    Returns
    -------
    TorchvisionClassifier
        The network behind a stem that reshapes flat rows to images.

    Raises
    ------
    ValueError
        If ``name`` is not a torchvision classification model, ``input_shape``
        does not hold ``n_features`` values, or pretrained weights are asked for.
    """
    try:
        import torchvision
    except ImportError as exc:
        raise ImportError(
            f"module='torchvision:{name}' needs torchvision: pip install '.[torchvision]' in "
            "skkd's checkout"
        ) from exc

    if kwargs.get("weights") is not None or kwargs.get("weights_backbone") is not None:
        raise ValueError(
            "skkd never downloads pretrained weights; load them into a module yourself "
            "and pass the instance as module=..."
        )
    kwargs.pop("weights", None)
    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        raise ValueError(
            f"Unknown torchvision classification model {name!r}; choose one of "
            f"{', '.join(available)}."
        )
    shape = tuple(input_shape) if input_shape is not None else guess_image_shape(n_features)
    if math.prod(shape) != n_features:
        raise ValueError(
            f"input_shape={shape} holds {math.prod(shape)} values but X has "
            f"{n_features} features."
        )
    network = torchvision.models.get_model(name, weights=None, num_classes=n_classes, **kwargs)
    return TorchvisionClassifier(network, shape)
