"""skkd-extra-losses: DKD and DIST knowledge-distillation losses for skkd.

Installing this distribution registers, through the ``skkd`` entry-point group,

- ``"dkd"``: :func:`~skkd_extra_losses.losses.decoupled_kd`, Decoupled Knowledge
  Distillation (Zhao et al., CVPR 2022), options ``dkd_alpha=1.0``, ``beta=8.0``;
- ``"dist"``: :func:`~skkd_extra_losses.losses.dist`, DIST (Huang et al.,
  NeurIPS 2022), options ``beta=1.0``, ``gamma=1.0``.

Use them as ``DistilledClassifier(loss="dkd", loss__beta=8)``.
"""

from __future__ import annotations

from collections.abc import Callable

from skkd.hookspecs import hookimpl

from skkd_extra_losses.losses import decoupled_kd, dist, pearson

__version__ = "0.1.0"
__all__ = ["__version__", "decoupled_kd", "dist", "pearson", "skkd_register_losses"]


@hookimpl
def skkd_register_losses(register: Callable[[str, Callable[..., object]], None]) -> None:
    """Register ``"dkd"`` and ``"dist"`` with skkd."""
    register("dkd", decoupled_kd)
    register("dist", dist)
