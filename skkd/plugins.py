"""The plugin manager: built-ins and installed plugins, looked up by name.

This module is skkd's face to users, tests and the rest of the package: it
holds the current registry and the lock around it, changes it
(:func:`register`, :func:`unregister`, :func:`reset`) and looks names up in it
(:func:`get_loss`, :func:`get_model`, :func:`get_hint_loss`, :func:`teacher_adapters`,
:func:`list_plugins`, :func:`broken_plugins`, :func:`plugin_of`). How a
registry is built (discovering entry points, calling hooks, detecting broken
plugins) is in ``skkd._registry``.

Built-in modules register through the same hooks as third-party plugins, which
are found in the ``skkd`` entry-point group the first time anything is looked
up. Set ``SKKD_LOAD_PLUGINS`` to a comma-separated list of distribution names
to load only those installed plugins; an empty value loads none. A name in it
that no installed plugin distribution has (a typo) is warned about
(:class:`PluginWarning`) on loading, and every "Unknown ..." lookup error says
that the variable limits what loads.

A broken plugin (it fails to import, implements a hook wrongly, raises inside a
hook, registers a name another plugin already took, or registers something
that is not callable) is skipped as a whole, with a :class:`PluginWarning`
naming it; the other plugins keep working. ``skkd plugins`` lists it with the
reason.

Loading is thread-safe and atomic: the registry is built aside, under a lock,
and published complete, so a lookup sees either no registry yet (and waits for
the one being built) or a complete one.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

import pluggy

from skkd._registry import (
    ALLOW_ENV,
    ENTRY_POINT_GROUP,
    SINGULAR,
    Origin,
    PluginInfo,
    Snapshot,
    Source,
    allow_list_report,
    build,
    describe_info,
    discover,
    installed_distributions,
    new_manager,
    show,
    skip_message,
)
from skkd._registry import allow_list_note as _allow_list_note
from skkd._warnings import caller_level
from skkd.exceptions import PluginError, PluginWarning

__all__ = [
    "ALLOW_ENV",
    "ENTRY_POINT_GROUP",
    "ModelFactory",
    "PluginError",
    "PluginInfo",
    "PluginWarning",
    "allow_list_note",
    "broken_plugins",
    "get_augmentation",
    "describe",
    "get_hint_loss",
    "get_loss",
    "get_model",
    "get_plugin_manager",
    "list_plugins",
    "plugin_of",
    "register",
    "reset",
    "teacher_adapters",
    "unregister",
]

RUNTIME_DISTRIBUTION = "<runtime>"


class _State:
    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None


_state = _State()
_lock = threading.RLock()


def _origin() -> Origin:
    """What a fresh load would read now: ``SKKD_LOAD_PLUGINS`` and ``sys.path``."""
    return os.environ.get(ALLOW_ENV), tuple(sys.path)


# --------------------------------------------------------------------------- loading


def _snapshot() -> Snapshot:
    """The published registry, loading built-ins and entry points on first use."""
    snap = _state.snapshot
    if snap is None:
        with _lock:
            snap = _state.snapshot
            if snap is None:
                origin = _origin()
                sources, failures = discover()
                snap = build(sources, failures, origin=origin, pristine=True)
                _warn_about_allow_list(origin[0])
                _publish(snap, previous=None)
    return snap


def _warn_about_allow_list(value: str | None) -> None:
    """Warn when ``SKKD_LOAD_PLUGINS`` names distributions that are not installed plugins."""
    if not value:
        return
    missing, _ = allow_list_report(value)
    if not missing:
        return
    installed = ", ".join(installed_distributions()) or "none"
    names = ", ".join(repr(m) for m in missing)
    warnings.warn(
        f"{ALLOW_ENV}={value!r} names {names}, which no installed skkd plugin distribution "
        f"is called, so {'it loads' if len(missing) == 1 else 'they load'} nothing. "
        f"Installed plugin distributions: {installed}. Check the spelling (distribution "
        f"names, as pip lists them), or unset {ALLOW_ENV} to load every installed plugin.",
        PluginWarning, stacklevel=caller_level(),
    )


def allow_list_note() -> str:
    """A sentence for "not found" errors when ``SKKD_LOAD_PLUGINS`` limits what loads.

    Returns
    -------
    str
        Empty when the variable was unset at loading; otherwise it names the
        value and the installed plugin distributions it leaves out.
    """
    return _allow_list_note(_snapshot().origin[0])


def _publish(snap: Snapshot, previous: Snapshot | None) -> None:
    """Warn about newly broken plugins, then make ``snap`` the registry (lock held)."""
    already = {(p.name, p.error) for p in previous.broken} if previous is not None else set()
    for info in snap.broken:
        if (info.name, info.error) not in already:
            warnings.warn(skip_message(info, snap), PluginWarning, stacklevel=caller_level())
    _state.snapshot = snap


# --------------------------------------------------------------------------- changing


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the plugin manager of the current registry, loading plugins on first use.

    It holds the loaded plugins only (skipped ones are not registered). Change
    the registry with :func:`register`, :func:`unregister` and :func:`reset`,
    not through the manager.

    Returns
    -------
    pluggy.PluginManager
        skkd's manager, project name ``"skkd"``.
    """
    return _snapshot().pm


def register(plugin: object, name: str | None = None,
             distribution: str = RUNTIME_DISTRIBUTION) -> str:
    """Register a plugin object (a module or class with hook implementations).

    Useful in tests and notebooks; installed packages should use the ``skkd``
    entry-point group instead.

    Parameters
    ----------
    plugin : object
        An object whose attributes include hook implementations marked with
        :data:`skkd.hookimpl`: a module, a class or an instance.
    name : str or None, default=None
        The plugin's name; None lets pluggy choose one.
    distribution : str, default="<runtime>"
        The distribution named in ``skkd plugins`` and in error messages.

    Returns
    -------
    str
        The plugin's name, for :func:`unregister`.

    Raises
    ------
    PluginError
        If the name or the object is already registered, or a hook
        implementation does not match the skkd hooks. A plugin that fails later
        (its hook raises, a name clashes with another plugin's) is skipped with
        a :class:`PluginWarning` instead, like an installed one.
    """
    with _lock:
        current = _snapshot()
        probe = new_manager()
        try:
            plugin_name = probe.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"Could not register plugin {name or plugin!r}: {exc}") from exc
        assert plugin_name is not None
        for source in current.sources:
            if source.name == plugin_name or source.plugin is plugin:
                raise PluginError(
                    f"Could not register plugin {plugin_name!r}: "
                    f"{describe_info(_info_of(current, source.name))} is already registered "
                    f"{'under that name' if source.name == plugin_name else 'as this object'}."
                )
        version = getattr(plugin, "__version__", "")
        new = Source(plugin_name, plugin, distribution, str(version), False)
        snap = build((*current.sources, new), current.import_failures,
                     origin=current.origin, pristine=False)
        _publish(snap, current)
        return plugin_name


def _info_of(snap: Snapshot, name: str) -> PluginInfo:
    if name in snap.info:
        return snap.info[name]
    return next(p for p in snap.broken if p.name == name)


def unregister(name: str) -> None:
    """Remove a plugin registered by name (see :func:`register`), loaded or skipped.

    Parameters
    ----------
    name : str
        The plugin's name, as :func:`register` returned it.

    Raises
    ------
    ValueError
        If no plugin of that name is registered.
    """
    with _lock:
        current = _snapshot()
        sources = tuple(s for s in current.sources if s.name != name)
        failures = tuple(p for p in current.import_failures if p.name != name)
        if len(sources) == len(current.sources) and len(failures) == len(current.import_failures):
            known = ", ".join(repr(s.name) for s in current.sources)
            raise ValueError(f"No plugin named {show(name)} is registered; registered: {known}.")
        snap = build(sources, failures, origin=current.origin, pristine=False)
        _publish(snap, current)


def reset() -> None:
    """Forget every plugin; the next lookup loads built-ins and entry points anew.

    Call it after changing ``SKKD_LOAD_PLUGINS`` or installing a plugin in a
    running process.
    """
    with _lock:
        _state.snapshot = None


def _restore(snapshot: Snapshot | None) -> None:
    """Publish an earlier registry again (for test fixtures)."""
    with _lock:
        _state.snapshot = snapshot


# --------------------------------------------------------------------------- lookup


def _lookup(kind: str, name: str) -> Callable[..., Any]:
    entries = _snapshot().registries[kind]
    for entry in entries:
        if entry.name == name:
            return entry.obj
    known = ", ".join(sorted(repr(e.name) for e in entries)) or "none"
    raise ValueError(
        f"Unknown {SINGULAR[kind]} {show(name)}. Registered {kind}: {known}. "
        "Install or register a plugin that provides it (see `skkd plugins`)."
        + allow_list_note()
    )


def get_loss(name: str) -> Callable[..., Any]:
    """Return the KD loss registered as ``name``.

    Parameters
    ----------
    name : str
        A registered loss name, e.g. ``"kl"``.

    Returns
    -------
    callable
        ``fn(student_logits, teacher_logits, *, temperature, y=None, **options)``
        (see :func:`skkd.hookspecs.skkd_register_losses`).

    Raises
    ------
    ValueError
        If no plugin registered ``name``; the message lists the known losses.
    """
    return _lookup("losses", name)


def get_augmentation(name: str) -> Callable[..., Any]:
    """Return the augmentation factory registered as ``name``.

    Parameters
    ----------
    name : str
        A registered augmentation name, e.g. ``"munge"``.

    Returns
    -------
    callable
        ``factory(**options)`` (see
        :func:`skkd.hookspecs.skkd_register_augmentations`).

    Raises
    ------
    ValueError
        If no plugin registered ``name``; the message lists the known ones.
    """
    return _lookup("augmentations", name)


def get_hint_loss(name: str) -> Callable[..., Any]:
    """Return the feature-distillation (hint) loss registered as ``name``.

    Parameters
    ----------
    name : str
        A registered hint loss name, e.g. ``"fitnets"`` or ``"at"``.

    Returns
    -------
    callable
        ``fn(student_feature, teacher_feature, **options)`` (see
        :func:`skkd.hookspecs.skkd_register_hint_losses`).

    Raises
    ------
    ValueError
        If no plugin registered ``name``; the message lists the known ones.
    """
    return _lookup("hint_losses", name)


def get_model(name: str) -> Callable[..., Any]:
    """Return the model factory registered as ``name``.

    A factory registered as ``"prefix:"`` serves every name ``"prefix:anything"``
    and receives ``anything`` as its ``name`` keyword argument. The returned
    callable checks that the factory builds a ``torch.nn.Module``.

    Parameters
    ----------
    name : str
        A registered model name, e.g. ``"mlp"`` or ``"torchvision:resnet18"``.

    Returns
    -------
    ModelFactory
        Call it as ``factory(n_features, n_classes, **module_kwargs)``.

    Raises
    ------
    ValueError
        If no plugin registered ``name``; the message lists the known models.
    """
    prefix, sep, rest = name.partition(":")
    if sep and rest:
        try:
            family = _lookup("models", prefix + ":")
        except ValueError:
            pass
        else:
            return ModelFactory(prefix + ":", family, rest)
    return ModelFactory(name, _lookup("models", name))


class ModelFactory:
    """A registered model factory, picklable, checking what it builds.

    Parameters
    ----------
    registered : str
        The name the factory was registered under (``"prefix:"`` for a family).
    factory : callable
        The registered factory.
    name : str or None, default=None
        For a family, the part after the prefix, passed as ``name=``.
    """

    def __init__(self, registered: str, factory: Callable[..., Any], name: str | None = None):
        self.registered, self.factory, self.name = registered, factory, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import torch

        if self.name is not None:
            kwargs["name"] = self.name
        module = self.factory(*args, **kwargs)
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                f"Model {self.registered!r} of {describe('models', self.registered)} built "
                f"{type(module).__name__}, not a torch.nn.Module."
            )
        return module


def teacher_adapters() -> list[tuple[str, Callable[..., Any]]]:
    """Return the registered teacher adapters in the order they are tried.

    Returns
    -------
    list of (str, callable)
        ``(name, adapter)`` pairs; see :func:`skkd.hookspecs.skkd_register_teachers`.
    """
    return [(e.name, e.obj) for e in _snapshot().registries["teachers"]]


def _copy(info: PluginInfo) -> PluginInfo:
    return dataclasses.replace(
        info, registered={kind: list(names) for kind, names in info.registered.items()}
    )


def list_plugins() -> list[PluginInfo]:
    """Describe every loaded plugin: distribution, version and what it registers.

    Returns
    -------
    list of PluginInfo
        Copies, in registration order (built-ins first).
    """
    return [_copy(info) for info in _snapshot().info.values()]


def broken_plugins() -> list[PluginInfo]:
    """Describe every skipped plugin; ``error`` says why it was skipped.

    Returns
    -------
    list of PluginInfo
        Copies; import failures first.
    """
    return [_copy(info) for info in _snapshot().broken]


def describe(kind: str, name: str) -> str:
    """``plugin 'p' (distribution 'd')`` for the plugin that registered ``name`` in ``kind``.

    Parameters
    ----------
    kind : {"losses", "models", "teachers", "augmentations", "hint_losses"}
        The kind of registration.
    name : str
        The registered name.

    Returns
    -------
    str
        For error messages.
    """
    return describe_info(plugin_of(kind, name))


def plugin_of(kind: str, name: str) -> PluginInfo:
    """Return the plugin that registered ``name`` in ``kind``.

    Parameters
    ----------
    kind : {"losses", "models", "teachers", "augmentations", "hint_losses"}
        The kind of registration.
    name : str
        The registered name.

    Returns
    -------
    PluginInfo
        A copy.

    Raises
    ------
    KeyError
        If no loaded plugin registered ``name``.
    """
    snap = _snapshot()
    for entry in snap.registries[kind]:
        if entry.name == name:
            return _copy(snap.info[entry.plugin])
    raise KeyError(name)
