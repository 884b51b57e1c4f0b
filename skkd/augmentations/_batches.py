"""A batch augmentation at fit time: run it on a batch, check what it returns.

The contract (:func:`skkd.hookspecs.skkd_register_augmentations`):
``augment_batch(xb, yb)`` returns a pair of tensors on the batch's device, in
its dtypes, rows with its columns, one label per row (-1 or a class code),
finite rows. :func:`check_batch_augmentation` tries it once before the fit
starts; the net runs every training batch through :func:`augment_batch`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from skkd._arrays import to_tensor
from skkd._seeding import forked_cpu_rng
from skkd.augmentations._fit_time import describe
from skkd.exceptions import InvalidParameterError, PluginError


def check_batch_augmentation(augmentation: Any, name: str, X: np.ndarray,
                             y_enc: np.ndarray) -> None:
    """Run a batch augmentation once on a few rows, before any teacher is fitted or queried.

    Catches what only the data shows (e.g. ``augment__input_shape`` against
    the number of features, ``augment__max_shift`` against the image size),
    and any break of the contract (see :func:`augment_batch`), early. Runs on
    the CPU under a forked random state: torch's global one is left as it was.

    Parameters
    ----------
    augmentation : object
        The batch augmentation built from ``augment`` and the ``augment__*`` options.
    name : str
        The name it was built under (``augment``).
    X : ndarray of shape (n_rows, n_features)
        A few training rows, float32.
    y_enc : ndarray of shape (n_rows,)
        Their encoded labels (-1: unlabeled).
    """
    with forked_cpu_rng():
        augment_batch(augmentation, to_tensor(X), to_tensor(y_enc, dtype=torch.int64), None,
                      name=f"augment={name!r}")


def augment_batch(augmentation: Any, xb: torch.Tensor, yb: torch.Tensor,
                  n_classes: int | None, *, name: str | None = None,
                  deferred: list[torch.Tensor] | None = None,
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``augmentation.augment_batch(xb, yb)``, its result checked against the contract.

    The pair must be two tensors on ``xb``'s device with ``xb``'s and ``yb``'s
    dtypes: rows with ``xb``'s columns, as many labels as rows, each -1 or a
    class code, and finite rows. The value checks share one device sync, or
    none with ``deferred``.

    Parameters
    ----------
    augmentation : object
        A batch augmentation (see :func:`skkd.hookspecs.skkd_register_augmentations`).
    xb, yb : torch.Tensor
        The training batch and its encoded labels (-1: unlabeled).
    n_classes : int or None
        The number of classes; None does not check the labels' upper bound.
    name : str or None, default=None
        How messages name the augmentation; None: :func:`describe`.
    deferred : list or None, default=None
        When a list, the value checks' outcome (a device tensor) is appended
        to it instead of read, for :func:`check_deferred_values` to read once.

    Returns
    -------
    tuple of torch.Tensor
        The new batch and its labels.

    Raises
    ------
    PluginError
        If the result breaks the contract; names the augmentation and what it returned.
    InvalidParameterError
        If the augmentation raised a ``ValueError`` (about its ``augment__*`` options).
    """
    name = describe(augmentation) if name is None else name
    shape = tuple(xb.shape)
    try:
        out = augmentation.augment_batch(xb, yb)
    except ValueError as exc:
        raise InvalidParameterError(f"{name}: {exc}") from exc
    except Exception as exc:
        raise PluginError(f"{name} failed on a batch of shape {shape}: "
                          f"{type(exc).__name__}: {exc}") from exc

    def broken(what: str) -> PluginError:
        return PluginError(
            f"{name} returned {what} for a batch of shape {shape} ({xb.dtype}, labels "
            f"{yb.dtype}); augment_batch(xb, yb) must return a pair (xb, yb): rows with "
            f"the batch's {shape[1]} columns and dtype, and one label per row (-1 or a class "
            "code), on the batch's device (see skkd.hookspecs.skkd_register_augmentations)."
        )

    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise broken(_what(out))
    x_new, y_new = out
    if not isinstance(x_new, torch.Tensor) or not isinstance(y_new, torch.Tensor):
        raise broken(f"a pair ({_what(x_new)}, {_what(y_new)})")
    if x_new.ndim != 2 or x_new.shape[1] != shape[1] or len(x_new) == 0:
        raise broken(f"rows of shape {tuple(x_new.shape)}")
    if y_new.ndim != 1 or len(y_new) != len(x_new):
        raise broken(f"labels of shape {tuple(y_new.shape)} for {len(x_new)} rows")
    if x_new.dtype != xb.dtype or y_new.dtype != yb.dtype:
        raise broken(f"rows of dtype {x_new.dtype} and labels of dtype {y_new.dtype}")
    if x_new.device != xb.device or y_new.device != yb.device:
        raise broken(f"tensors on {x_new.device} and {y_new.device}")
    high = n_classes if n_classes is not None else torch.iinfo(torch.int64).max
    flags = torch.stack([((y_new < -1) | (y_new >= high)).any(), ~torch.isfinite(x_new).all()])
    if deferred is not None:
        deferred.append(flags)
        return x_new, y_new
    bad_labels, non_finite = flags.tolist()
    if bad_labels:
        wrong = y_new[(y_new < -1) | (y_new >= high)]
        raise broken(f"labels outside -1..{high - 1} (e.g. {int(wrong[0])})")
    if non_finite:
        count = int((~torch.isfinite(x_new)).sum())
        raise broken(f"rows holding NaN or infinity ({count} of {x_new.numel()} values)")
    return x_new, y_new


def check_deferred_values(deferred: list[torch.Tensor], augmentation: Any,
                          n_classes: int | None, when: str) -> None:
    """Raise if a batch checked by ``augment_batch(..., deferred=...)`` broke the contract.

    Parameters
    ----------
    deferred : list of torch.Tensor
        The value checks' outcomes :func:`augment_batch` appended.
    augmentation : object
        The batch augmentation, for the message.
    n_classes : int or None
        The number of classes the labels were checked against.
    when : str
        Where the batches were made, for the message (e.g. ``"epoch 3"``).

    Raises
    ------
    PluginError
        If a batch's labels were outside ``-1..n_classes - 1`` or its rows not finite.
    """
    if not deferred:
        return
    bad_labels, non_finite = torch.stack(deferred).any(dim=0).tolist()
    if bad_labels or non_finite:
        what = " and ".join(
            w for w, bad in ((f"labels outside -1..{n_classes - 1}" if n_classes else
                              "labels below -1", bad_labels),
                             ("rows holding NaN or infinity", non_finite)) if bad)
        raise PluginError(
            f"{describe(augmentation)} returned {what} in a batch of {when} (checked at the "
            "epoch's end off the CPU); augment_batch(xb, yb) must return one label per row "
            "(-1 or a class code) and finite rows (see skkd.hookspecs.skkd_register_augmentations)."
        )


def _what(obj: Any) -> str:
    """A short description of what a plugin returned."""
    if isinstance(obj, torch.Tensor):
        return f"a tensor of shape {tuple(obj.shape)}"
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of {len(obj)} items"
    return f"a {type(obj).__name__}"
