"""The plugin manager: built-ins and installed plugins, looked up by name.

One :class:`pluggy.PluginManager` serves the whole process. Built-in modules
register through the same hooks as third-party plugins, which are found in
the ``skkd`` entry-point group the first time anything is looked up.

Set ``SKKD_LOAD_PLUGINS`` to a comma-separated list of distribution names to
load only those installed plugins; an empty value loads none.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from skkd import hookspecs

ENTRY_POINT_GROUP = "skkd"
ALLOW_ENV = "SKKD_LOAD_PLUGINS"
BUILTIN_DISTRIBUTION = "skkd"
_BUILTIN_MODULES = ("skkd.losses", "skkd.models", "skkd.teachers", "skkd.torchvision_models")
_SINGULAR = {"losses": "loss", "models": "model", "teachers": "teacher adapter"}
_KINDS = {
    "losses": "skkd_register_losses",
    "models": "skkd_register_models",
    "teachers": "skkd_register_teachers",
}


class PluginError(RuntimeError):
    """A plugin broke the skkd plugin contract (the message names it)."""


@dataclass
class PluginInfo:
    """What one plugin is and what it registered."""

    name: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(
        default_factory=lambda: {kind: [] for kind in _KINDS}
    )


@dataclass
class _Entry:
    name: str
    obj: Any
    plugin: str


class _State:
    def __init__(self) -> None:
        self.pm: pluggy.PluginManager | None = None
        self.info: dict[str, PluginInfo] = {}
        self.registries: dict[str, list[_Entry]] | None = None


_state = _State()


def _skkd_version() -> str:
    from skkd import __version__

    return __version__


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, loading plugins on first use."""
    if _state.pm is None:
        pm = pluggy.PluginManager("skkd")
        pm.add_hookspecs(hookspecs)
        info: dict[str, PluginInfo] = {}
        for module_name in _BUILTIN_MODULES:
            pm.register(importlib.import_module(module_name), name=module_name)
            info[module_name] = PluginInfo(module_name, BUILTIN_DISTRIBUTION, _skkd_version())
        _state.pm, _state.info = pm, info
        _load_entry_points(pm, info)
    return _state.pm


def _allowed_distributions() -> set[str] | None:
    value = os.environ.get(ALLOW_ENV)
    if value is None:
        return None
    return {_normalize(part) for part in value.split(",") if part.strip()}


def _normalize(dist_name: str) -> str:
    return dist_name.strip().lower().replace("_", "-").replace(".", "-")


def _load_entry_points(pm: pluggy.PluginManager, info: dict[str, PluginInfo]) -> None:
    allowed = _allowed_distributions()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else "<unknown distribution>"
        version = dist.version if dist is not None else "?"
        if allowed is not None and _normalize(dist_name) not in allowed:
            continue
        if pm.has_plugin(ep.name):
            raise PluginError(
                f"Plugin name {ep.name!r} from distribution {dist_name!r} is already "
                f"taken by {info[ep.name].distribution!r}; rename the entry point."
            )
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not break skkd
            warnings.warn(
                f"skkd plugin {ep.name!r} (distribution {dist_name!r}) failed to import "
                f"and was skipped: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        try:
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            raise PluginError(
                f"skkd plugin {ep.name!r} (distribution {dist_name!r}) could not be "
                f"registered: {exc}"
            ) from exc
        info[ep.name] = PluginInfo(ep.name, dist_name, version)


def register(plugin: object, name: str | None = None, distribution: str = "<runtime>") -> str:
    """Register a plugin object (a module or class with hook implementations).

    Useful in tests and notebooks; installed packages should use the ``skkd``
    entry-point group instead. Returns the plugin's name.
    """
    pm = get_plugin_manager()
    try:
        plugin_name = pm.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        raise PluginError(f"Could not register plugin {name or plugin!r}: {exc}") from exc
    assert plugin_name is not None
    _state.info[plugin_name] = PluginInfo(plugin_name, distribution, "")
    _state.registries = None
    return plugin_name


def unregister(name: str) -> None:
    """Remove a plugin registered by name (see :func:`register`)."""
    pm = get_plugin_manager()
    pm.unregister(name=name)
    _state.info.pop(name, None)
    _state.registries = None


def reset() -> None:
    """Forget every plugin; the next lookup loads built-ins and entry points anew."""
    _state.pm, _state.info, _state.registries = None, {}, None


def _describe(plugin: str) -> str:
    info = _state.info.get(plugin)
    dist = info.distribution if info else "<unknown distribution>"
    return f"plugin {plugin!r} (distribution {dist!r})"


def _collect(kind: str) -> list[_Entry]:
    pm = get_plugin_manager()
    hook = getattr(pm.hook, _KINDS[kind])
    entries: list[_Entry] = []
    seen: dict[str, _Entry] = {}
    # pluggy calls the most recently registered implementation first; keep
    # that order so a plugin's teacher adapter is tried before the built-ins.
    for impl in reversed(hook.get_hookimpls()):
        plugin = impl.plugin_name

        def _register(name: str, obj: Any, _plugin: str = plugin) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(
                    f"{_describe(_plugin)} registered a {_SINGULAR[kind]} under {name!r}; "
                    "names must be non-empty strings."
                )
            if not callable(obj):
                raise PluginError(
                    f"{_describe(_plugin)} registered {_SINGULAR[kind]} {name!r} as "
                    f"{type(obj).__name__}, which is not callable."
                )
            if name in seen:
                raise PluginError(
                    f"{_SINGULAR[kind].capitalize()} name {name!r} is registered twice: by "
                    f"{_describe(seen[name].plugin)} and by {_describe(_plugin)}."
                )
            seen[name] = _Entry(name, obj, _plugin)
            entries.append(seen[name])

        try:
            impl.function(register=_register)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"{_describe(plugin)} raised inside {_KINDS[kind]}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return entries


def _registries() -> dict[str, list[_Entry]]:
    if _state.registries is None:
        registries = {kind: _collect(kind) for kind in _KINDS}
        for info in _state.info.values():
            info.registered = {kind: [] for kind in _KINDS}
        for kind, entries in registries.items():
            for entry in entries:
                _state.info[entry.plugin].registered[kind].append(entry.name)
        _state.registries = registries
    return _state.registries


def _lookup(kind: str, name: str) -> Callable[..., Any]:
    entries = _registries()[kind]
    for entry in entries:
        if entry.name == name:
            return entry.obj
    known = ", ".join(sorted(repr(e.name) for e in entries)) or "none"
    raise ValueError(
        f"Unknown {_SINGULAR[kind]} {name!r}. Registered {kind}: {known}. "
        "Install or register a plugin that provides it (see `skkd plugins`)."
    )


def get_loss(name: str) -> Callable[..., Any]:
    """Return the KD loss registered as ``name``.

    Raises
    ------
    ValueError
        If no plugin registered ``name``; the message lists the known losses.
    """
    return _lookup("losses", name)


def get_model(name: str) -> Callable[..., Any]:
    """Return the model factory registered as ``name``.

    A factory registered as ``"prefix:"`` serves every name ``"prefix:anything"``
    and receives ``anything`` as its ``name`` keyword argument. The returned
    callable checks that the factory builds a ``torch.nn.Module``.
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
    """A registered model factory, picklable, checking what it builds."""

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
    """Return ``(name, adapter)`` pairs in the order they are tried."""
    return [(e.name, e.obj) for e in _registries()["teachers"]]


def list_plugins() -> list[PluginInfo]:
    """Describe every loaded plugin: distribution, version and what it registers."""
    _registries()
    return list(_state.info.values())


def describe(kind: str, name: str) -> str:
    """``plugin 'p' (distribution 'd')`` for the plugin that registered ``name`` in ``kind``."""
    return _describe(plugin_of(kind, name).name)


def plugin_of(kind: str, name: str) -> PluginInfo:
    """Return the plugin that registered ``name`` in ``kind``."""
    for entry in _registries()[kind]:
        if entry.name == name:
            return _state.info[entry.plugin]
    raise KeyError(name)
