"""The plugin registers its losses through the skkd hook, without the estimator."""

from __future__ import annotations

import importlib.metadata

import pytest

import skkd_extra_losses
from skkd_extra_losses import decoupled_kd, dist


def test_hook_registers_dkd_and_dist():
    registered: dict[str, object] = {}

    def register(name: str, fn: object) -> None:
        assert name not in registered
        registered[name] = fn

    skkd_extra_losses.skkd_register_losses(register=register)
    assert registered == {"dkd": decoupled_kd, "dist": dist}


def test_hook_carries_the_skkd_marker():
    # pluggy finds hook implementations by this attribute (HookimplMarker("skkd")).
    assert hasattr(skkd_extra_losses.skkd_register_losses, "skkd_impl")


def test_entry_point_resolves_to_this_module():
    try:
        dist_ = importlib.metadata.distribution("skkd-extra-losses")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("skkd-extra-losses is not installed")
    (ep,) = [e for e in dist_.entry_points if e.group == "skkd"]
    assert ep.name == "extra_losses"
    assert ep.load() is skkd_extra_losses
