"""The plugin manager: built-ins and installed plugins, looked up by name.

Built-in modules register through the same hooks as third-party plugins, which
are found in the ``skkd`` entry-point group the first time anything is looked
up. Set ``SKKD_LOAD_PLUGINS`` to a comma-separated list of distribution names
to load only those installed plugins; an empty value loads none.

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
import importlib
import importlib.metadata
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from skkd import hookspecs
from skkd.exceptions import PluginError, PluginWarning

__all__ = [
    "ALLOW_ENV",
    "ENTRY_POINT_GROUP",
    "ModelFactory",
    "PluginError",
    "PluginInfo",
    "PluginWarning",
    "broken_plugins",
    "describe",
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

ENTRY_POINT_GROUP = "skkd"
ALLOW_ENV = "SKKD_LOAD_PLUGINS"
BUILTIN_DISTRIBUTION = "skkd"
RUNTIME_DISTRIBUTION = "<runtime>"
_BUILTIN_MODULES = ("skkd.losses", "skkd.models", "skkd.adapters", "skkd.torchvision_models")
_SINGULAR = {"losses": "loss", "models": "model", "teachers": "teacher adapter"}
_KINDS = {
    "losses": "skkd_register_losses",
    "models": "skkd_register_models",
    "teachers": "skkd_register_teachers",
}


def _no_registrations() -> dict[str, list[str]]:
    return {kind: [] for kind in _KINDS}


@dataclass
class PluginInfo:
    """What one plugin is and what it registered.

    ``error`` is ``None`` for a loaded plugin; for a skipped one (see
    :func:`broken_plugins`) it says what went wrong.
    """

    name: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=_no_registrations)
    error: str | None = None


@dataclass(frozen=True)
class _Entry:
    name: str
    obj: Any
    plugin: str


@dataclass(frozen=True)
class _Source:
    """A plugin object to register, and where it came from."""

    name: str
    plugin: object
    distribution: str
    version: str
    installed: bool  # found through an entry point (SKKD_LOAD_PLUGINS applies)


@dataclass(frozen=True)
class _Snapshot:
    """One complete, never mutated registry; replaced as a whole."""

    pm: pluggy.PluginManager
    sources: tuple[_Source, ...]
    import_failures: tuple[PluginInfo, ...]
    info: dict[str, PluginInfo]  # loaded plugins, in registration order
    broken: tuple[PluginInfo, ...]  # skipped plugins, import failures first
    registries: dict[str, tuple[_Entry, ...]]
    origin: tuple[str | None, tuple[str, ...]]  # SKKD_LOAD_PLUGINS and sys.path it was read with
    pristine: bool  # built by the lazy first load alone (no register/unregister since)


class _State:
    def __init__(self) -> None:
        self.snapshot: _Snapshot | None = None


_state = _State()
_lock = threading.RLock()


def _skkd_version() -> str:
    from skkd import __version__

    return __version__


def _origin() -> tuple[str | None, tuple[str, ...]]:
    return os.environ.get(ALLOW_ENV), tuple(sys.path)


# --------------------------------------------------------------------------- loading


def _snapshot() -> _Snapshot:
    """The published registry, loading built-ins and entry points on first use."""
    snap = _state.snapshot
    if snap is None:
        with _lock:
            snap = _state.snapshot
            if snap is None:
                origin = _origin()
                sources, failures = _discover()
                snap = _build(sources, failures, origin=origin, pristine=True)
                _publish(snap, previous=None)
    return snap


def _publish(snap: _Snapshot, previous: _Snapshot | None) -> None:
    """Warn about newly broken plugins, then make ``snap`` the registry (lock held)."""
    already = {(p.name, p.error) for p in previous.broken} if previous is not None else set()
    for info in snap.broken:
        if (info.name, info.error) not in already:
            warnings.warn(_skip_message(info, snap), PluginWarning, stacklevel=_caller_level())
    _state.snapshot = snap


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside skkd, for a warning raised here."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _discover() -> tuple[list[_Source], list[PluginInfo]]:
    """Built-in modules, then the allowed entry points (loaded) and import failures."""
    version = _skkd_version()
    sources = [
        _Source(module, importlib.import_module(module), BUILTIN_DISTRIBUTION, version, False)
        for module in _BUILTIN_MODULES
    ]
    failures: list[PluginInfo] = []
    allowed = _allowed_distributions()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        dist_name = dist.metadata["Name"] if dist is not None else "<unknown distribution>"
        dist_version = dist.version if dist is not None else "?"
        if allowed is not None and _normalize(dist_name) not in allowed:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not break skkd
            failures.append(PluginInfo(
                ep.name, dist_name, dist_version,
                error=f"it failed to import: {type(exc).__name__}: {exc}",
            ))
            continue
        sources.append(_Source(ep.name, plugin, dist_name, dist_version, True))
    return sources, failures


def _allowed_distributions() -> set[str] | None:
    value = os.environ.get(ALLOW_ENV)
    if value is None:
        return None
    return {_normalize(part) for part in value.split(",") if part.strip()}


def _normalize(dist_name: str) -> str:
    return dist_name.strip().lower().replace("_", "-").replace(".", "-")


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("skkd")
    pm.add_hookspecs(hookspecs)
    return pm


def _build(
    sources: Iterable[_Source],
    import_failures: Iterable[PluginInfo],
    *,
    origin: tuple[str | None, tuple[str, ...]],
    pristine: bool,
) -> _Snapshot:
    """Register ``sources`` in order and collect what they register, skipping broken ones.

    Everything is built in locals; nothing global changes here. Earlier sources
    win a name: built-ins come first, so a plugin reusing a built-in name is the
    one skipped.
    """
    sources = tuple(sources)
    import_failures = tuple(import_failures)
    pm = _new_manager()
    info: dict[str, PluginInfo] = {}
    broken: list[PluginInfo] = list(import_failures)
    accepted: dict[str, dict[str, list[_Entry]]] = {}
    owners: dict[str, dict[str, str]] = {kind: {} for kind in _KINDS}  # kind -> name -> plugin
    for source in sources:
        problems = _register_into(pm, source, info)
        registered: dict[str, list[_Entry]] = {kind: [] for kind in _KINDS}
        if not problems:
            problems = _collect(pm, source, registered)
        if not problems:
            problems = [
                f"its {_SINGULAR[kind]} {entry.name!r} is already registered by "
                f"{_describe_info(info[owners[kind][entry.name]])}"
                for kind, entries in registered.items()
                for entry in entries
                if entry.name in owners[kind]
            ]
        if problems:
            if pm.get_plugin(source.name) is source.plugin:
                pm.unregister(name=source.name)
            broken.append(PluginInfo(source.name, source.distribution, source.version,
                                     error="; ".join(problems)))
            continue
        for kind, entries in registered.items():
            for entry in entries:
                owners[kind][entry.name] = source.name
        accepted[source.name] = registered
        info[source.name] = PluginInfo(
            source.name, source.distribution, source.version,
            registered={kind: [e.name for e in entries] for kind, entries in registered.items()},
        )
    registries: dict[str, tuple[_Entry, ...]] = {}
    for kind, hook_name in _KINDS.items():
        # pluggy calls the most recently registered implementation first (tryfirst
        # and trylast aside); keep that order, so a plugin's teacher adapter is
        # tried before the built-ins.
        order = dict.fromkeys(
            impl.plugin_name for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls())
        )
        registries[kind] = tuple(e for plugin in order for e in accepted[plugin][kind])
    return _Snapshot(pm, sources, import_failures, info, tuple(broken), registries, origin,
                     pristine)


def _register_into(pm: pluggy.PluginManager, source: _Source,
                   info: dict[str, PluginInfo]) -> list[str]:
    """Register ``source`` with ``pm``; the problems that prevented it, if any."""
    if pm.has_plugin(source.name):
        return [f"its name is already taken by {_describe_info(info[source.name])}"]
    if pm.is_registered(source.plugin):
        other = pm.get_name(source.plugin)
        return [f"the same object is already registered as plugin {other!r}"]
    try:
        pm.register(source.plugin, name=source.name)
    except pluggy.PluginValidationError as exc:
        if pm.get_plugin(source.name) is source.plugin:
            pm.unregister(name=source.name)
        return [f"a hook implementation does not match the skkd hooks: {exc}"]
    problems = []
    for caller in pm.get_hookcallers(source.plugin) or []:
        if not caller.has_spec():
            impls = [i for i in caller.get_hookimpls() if i.plugin_name == source.name]
            if any(not impl.optionalhook for impl in impls):
                problems.append(
                    f"it implements {caller.name!r}, which is not a skkd hook "
                    f"(the hooks are {', '.join(_KINDS.values())})"
                )
    return problems


def _collect(pm: pluggy.PluginManager, source: _Source,
             registered: dict[str, list[_Entry]]) -> list[str]:
    """Call ``source``'s hooks, filling ``registered``; the problems found, if any."""
    problems: list[str] = []
    for kind, hook_name in _KINDS.items():
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            if impl.plugin_name != source.name:
                continue
            if impl.hookwrapper or getattr(impl, "wrapper", False):
                problems.append(
                    f"its {hook_name} is a hook wrapper (hookwrapper=True or wrapper=True); "
                    "wrappers are not supported for skkd hooks: implement it as a plain "
                    "function that calls register(name, obj)"
                )
                continue
            if "register" not in impl.argnames:
                problems.append(
                    f"its {hook_name} takes no 'register' argument, so it cannot register "
                    "anything (pluggy passes arguments by name)"
                )
                continue
            problems.extend(_call_hook(impl, kind, registered[kind]))
    return problems


def _call_hook(impl: Any, kind: str, entries: list[_Entry]) -> list[str]:
    problems: list[str] = []
    open_ = True
    what = _SINGULAR[kind]
    hook_name = _KINDS[kind]

    def _register(name: str, obj: Any) -> None:
        problem = None
        if not open_:
            problem = f"it called register() after {hook_name} had returned"
        elif not isinstance(name, str) or not name:
            problem = f"it registered a {what} under {_show(name)}; names must be non-empty strings"
        elif not callable(obj):
            problem = (f"it registered {what} {str(name)!r} as {type(obj).__name__}, "
                       "which is not callable")
        elif any(e.name == name for e in entries):
            problem = f"it registered {what} {str(name)!r} twice"
        if problem is not None:
            problems.append(problem)
            raise PluginError(problem)
        entries.append(_Entry(str(name), obj, impl.plugin_name))

    try:
        kwargs = {"register": _register}
        result = impl.function(*[kwargs[arg] for arg in impl.argnames])
    except Exception as exc:
        if not problems:  # errors from _register are already recorded
            problems.append(f"it raised inside {hook_name}: {type(exc).__name__}: {exc}")
    else:
        if hasattr(result, "__next__") and hasattr(result, "send"):  # a generator
            problems.append(
                f"its {hook_name} is a generator function, so its body never ran; "
                "call register(name, obj) in a plain function"
            )
    finally:
        open_ = False
    return problems


def _show(value: object) -> str:
    """``repr`` of a value as the user wrote it (``0``, not ``np.int64(0)``)."""
    if isinstance(value, str):
        return repr(str(value))
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        try:
            return repr(value.item())
        except (TypeError, ValueError):
            pass
    return repr(value)


def _describe_info(info: PluginInfo) -> str:
    return f"plugin {info.name!r} (distribution {info.distribution!r})"


def _skip_message(info: PluginInfo, snap: _Snapshot) -> str:
    source = next((s for s in snap.sources if s.name == info.name), None)
    if source is not None and not source.installed:
        if source.distribution == BUILTIN_DISTRIBUTION:
            remedy = "this is a bug in skkd; please report it"
        else:
            remedy = (f"it was registered with skkd.plugins.register(); "
                      f"skkd.plugins.unregister({info.name!r}) removes it")
    else:
        keep = sorted({s.distribution for s in snap.sources
                       if s.installed and s.name in snap.info} - {info.distribution})
        remedy = (f"to leave it out, list the plugin distributions to load in {ALLOW_ENV} "
                  f"(e.g. {ALLOW_ENV}={','.join(keep)!r}; an empty value loads none) "
                  f"or uninstall {info.distribution!r}")
    return (f"skkd skipped {_describe_info(info)}: {info.error}. All its registrations are "
            f"dropped; the other plugins keep working. {remedy[0].upper()}{remedy[1:]}.")


# --------------------------------------------------------------------------- changing


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the plugin manager of the current registry, loading plugins on first use.

    It holds the loaded plugins only (skipped ones are not registered). Change
    the registry with :func:`register`, :func:`unregister` and :func:`reset`,
    not through the manager.
    """
    return _snapshot().pm


def register(plugin: object, name: str | None = None,
             distribution: str = RUNTIME_DISTRIBUTION) -> str:
    """Register a plugin object (a module or class with hook implementations).

    Useful in tests and notebooks; installed packages should use the ``skkd``
    entry-point group instead. Returns the plugin's name.

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
        probe = _new_manager()
        try:
            plugin_name = probe.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"Could not register plugin {name or plugin!r}: {exc}") from exc
        assert plugin_name is not None
        for source in current.sources:
            if source.name == plugin_name or source.plugin is plugin:
                raise PluginError(
                    f"Could not register plugin {plugin_name!r}: "
                    f"{_describe_info(_info_of(current, source.name))} is already registered "
                    f"{'under that name' if source.name == plugin_name else 'as this object'}."
                )
        version = getattr(plugin, "__version__", "")
        new = _Source(plugin_name, plugin, distribution, str(version), False)
        snap = _build((*current.sources, new), current.import_failures,
                      origin=current.origin, pristine=False)
        _publish(snap, current)
        return plugin_name


def _info_of(snap: _Snapshot, name: str) -> PluginInfo:
    if name in snap.info:
        return snap.info[name]
    return next(p for p in snap.broken if p.name == name)


def unregister(name: str) -> None:
    """Remove a plugin registered by name (see :func:`register`), loaded or skipped.

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
            raise ValueError(f"No plugin named {_show(name)} is registered; registered: {known}.")
        snap = _build(sources, failures, origin=current.origin, pristine=False)
        _publish(snap, current)


def reset() -> None:
    """Forget every plugin; the next lookup loads built-ins and entry points anew.

    Call it after changing ``SKKD_LOAD_PLUGINS`` or installing a plugin in a
    running process.
    """
    with _lock:
        _state.snapshot = None


def _restore(snapshot: _Snapshot | None) -> None:
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
        f"Unknown {_SINGULAR[kind]} {_show(name)}. Registered {kind}: {known}. "
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
    return [(e.name, e.obj) for e in _snapshot().registries["teachers"]]


def _copy(info: PluginInfo) -> PluginInfo:
    return dataclasses.replace(
        info, registered={kind: list(names) for kind, names in info.registered.items()}
    )


def list_plugins() -> list[PluginInfo]:
    """Describe every loaded plugin: distribution, version and what it registers."""
    return [_copy(info) for info in _snapshot().info.values()]


def broken_plugins() -> list[PluginInfo]:
    """Describe every skipped plugin; ``error`` says why it was skipped."""
    return [_copy(info) for info in _snapshot().broken]


def describe(kind: str, name: str) -> str:
    """``plugin 'p' (distribution 'd')`` for the plugin that registered ``name`` in ``kind``."""
    return _describe_info(plugin_of(kind, name))


def plugin_of(kind: str, name: str) -> PluginInfo:
    """Return the plugin that registered ``name`` in ``kind``.

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
