"""How a plugin registry is built: the machinery behind :mod:`skkd.plugins`.

Internal to skkd; users and plugin authors use :mod:`skkd.plugins`, which
re-exports the public names defined here (:class:`PluginInfo` and the
constants). This module holds:

* discovery: the built-in modules, then the ``skkd`` entry points allowed by
  ``SKKD_LOAD_PLUGINS`` (:func:`discover`);
* building: a fresh pluggy manager (:func:`new_manager`), registering each
  plugin and calling its hooks to collect what it registers (:func:`build`);
* broken plugins: detecting them while building (a bad hook, a hook that
  raises, a name already taken, a hook wrapper) and describing them
  (:func:`skip_message`);
* the types: :class:`PluginInfo`, and :class:`Snapshot`, one complete,
  immutable registry.

Nothing here has state: every function builds from its arguments (and the
environment, in :func:`discover`). Which registry is current, the lock and the
warnings are :mod:`skkd.plugins`' business; this module never imports it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from skkd import hookspecs
from skkd._version import __version__
from skkd.exceptions import PluginError

ENTRY_POINT_GROUP = "skkd"
ALLOW_ENV = "SKKD_LOAD_PLUGINS"
BUILTIN_DISTRIBUTION = "skkd"
#: Names no plugin may register, by kind, and why.
RESERVED = {"models": {"auto": "module='auto' chooses tabular-mlp or mlp from X"}}

BUILTIN_MODULES = (
    "skkd.losses", "skkd.models", "skkd.teachers", "skkd.augmentations", "skkd.hints",
)
SINGULAR = {"losses": "loss", "models": "model", "teachers": "teacher adapter",
            "augmentations": "augmentation", "hint_losses": "hint loss"}
KINDS = {
    "losses": "skkd_register_losses",
    "models": "skkd_register_models",
    "teachers": "skkd_register_teachers",
    "augmentations": "skkd_register_augmentations",
    "hint_losses": "skkd_register_hint_losses",
}

Origin = tuple[str | None, tuple[str, ...]]  # SKKD_LOAD_PLUGINS and sys.path, as read


def _no_registrations() -> dict[str, list[str]]:
    return {kind: [] for kind in KINDS}


@dataclass
class PluginInfo:
    """What one plugin is and what it registered.

    ``error`` is ``None`` for a loaded plugin; for a skipped one (see
    :func:`skkd.plugins.broken_plugins`) it says what went wrong.

    Parameters
    ----------
    name : str
        The plugin's name: its entry-point name, ``skkd.<module>`` for a
        built-in, or the name given to :func:`skkd.plugins.register`.
    distribution : str
        The installed distribution that provides it (``"skkd"`` for the
        built-ins, ``"<runtime>"`` for one registered in-process).
    version : str
        The distribution's version.
    registered : dict of str to list of str
        The names it registered, per kind: ``"losses"``, ``"models"``,
        ``"teachers"``, ``"augmentations"`` and ``"hint_losses"``.
    error : str or None, default=None
        Why the plugin was skipped; None for a loaded plugin.
    """

    name: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=_no_registrations)
    error: str | None = None


@dataclass(frozen=True)
class Entry:
    """One registered loss, model or teacher adapter, and the plugin that registered it."""

    name: str
    obj: Any
    plugin: str


@dataclass(frozen=True)
class Source:
    """A plugin object to register, and where it came from."""

    name: str
    plugin: object
    distribution: str
    version: str
    installed: bool  # found through an entry point (SKKD_LOAD_PLUGINS applies)


@dataclass(frozen=True)
class Snapshot:
    """One complete, never mutated registry; replaced as a whole."""

    pm: pluggy.PluginManager
    sources: tuple[Source, ...]
    import_failures: tuple[PluginInfo, ...]
    info: dict[str, PluginInfo]  # loaded plugins, in registration order
    broken: tuple[PluginInfo, ...]  # skipped plugins, import failures first
    registries: dict[str, tuple[Entry, ...]]
    origin: Origin  # SKKD_LOAD_PLUGINS and sys.path it was read with
    pristine: bool  # built by the lazy first load alone (no register/unregister since)


# --------------------------------------------------------------------------- discovering


def discover() -> tuple[list[Source], list[PluginInfo]]:
    """Built-in modules, then the allowed entry points (loaded) and import failures."""
    sources = [
        Source(module, importlib.import_module(module), BUILTIN_DISTRIBUTION, __version__,
               False)
        for module in BUILTIN_MODULES
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
        sources.append(Source(ep.name, plugin, dist_name, dist_version, True))
    return sources, failures


def _allowed_distributions(value: str | None = None) -> set[str] | None:
    value = os.environ.get(ALLOW_ENV) if value is None else value
    if value is None:
        return None
    return {_normalize(part) for part in value.split(",") if part.strip()}


def installed_distributions() -> list[str]:
    """The installed distributions with ``skkd`` entry points, loaded or not, sorted."""
    names = {ep.dist.metadata["Name"] for ep in importlib.metadata.entry_points(
        group=ENTRY_POINT_GROUP) if ep.dist is not None}
    return sorted(names, key=_normalize)


def allow_list_report(value: str) -> tuple[list[str], list[str]]:
    """What the allow-list ``value`` names that is not installed, and what it leaves out.

    Parameters
    ----------
    value : str
        The value of ``SKKD_LOAD_PLUGINS``.

    Returns
    -------
    missing : list of str
        The names in ``value``, as written, of no installed plugin distribution.
    left_out : list of str
        The installed plugin distributions ``value`` does not name.
    """
    installed = installed_distributions()
    known = {_normalize(name) for name in installed}
    allowed = _allowed_distributions(value) or set()
    missing = [part.strip() for part in value.split(",")
               if part.strip() and _normalize(part) not in known]
    left_out = [name for name in installed if _normalize(name) not in allowed]
    return missing, left_out


def allow_list_note(value: str | None) -> str:
    """For "Unknown ..." errors: how ``SKKD_LOAD_PLUGINS=value`` limits what loads ("" if unset)."""
    if value is None:
        return ""
    try:
        _, left_out = allow_list_report(value)
    except Exception:  # the note must never hide the error it is added to
        left_out = []
    skipped = (f" (installed but not loaded: {', '.join(left_out)})" if left_out else "")
    return (f" Note: {ALLOW_ENV}={value!r} limits which installed plugins load{skipped}; "
            f"add the plugin's distribution to it, or unset {ALLOW_ENV} to load them all.")


def _normalize(dist_name: str) -> str:
    return dist_name.strip().lower().replace("_", "-").replace(".", "-")


def new_manager() -> pluggy.PluginManager:
    """An empty pluggy manager that knows the skkd hooks."""
    pm = pluggy.PluginManager("skkd")
    pm.add_hookspecs(hookspecs)
    return pm


# --------------------------------------------------------------------------- building


def build(
    sources: Iterable[Source],
    import_failures: Iterable[PluginInfo],
    *,
    origin: Origin,
    pristine: bool,
) -> Snapshot:
    """Register ``sources`` in order and collect what they register, skipping broken ones.

    Everything is built in locals; nothing global changes here. Earlier sources
    win a name: built-ins come first, so a plugin reusing a built-in name is the
    one skipped.
    """
    sources = tuple(sources)
    import_failures = tuple(import_failures)
    pm = new_manager()
    info: dict[str, PluginInfo] = {}
    broken: list[PluginInfo] = list(import_failures)
    accepted: dict[str, dict[str, list[Entry]]] = {}
    owners: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}  # kind -> name -> plugin
    for source in sources:
        problems = _register_into(pm, source, info)
        registered: dict[str, list[Entry]] = {kind: [] for kind in KINDS}
        if not problems:
            problems = _collect(pm, source, registered)
        if not problems:
            problems = [
                f"its {SINGULAR[kind]} {entry.name!r} is already registered by "
                f"{describe_info(info[owners[kind][entry.name]])}"
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
    registries: dict[str, tuple[Entry, ...]] = {}
    for kind, hook_name in KINDS.items():
        # pluggy calls the most recently registered implementation first (tryfirst
        # and trylast aside); keep that order, so a plugin's teacher adapter is
        # tried before the built-ins.
        order = dict.fromkeys(
            impl.plugin_name for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls())
        )
        registries[kind] = tuple(e for plugin in order for e in accepted[plugin][kind])
    return Snapshot(pm, sources, import_failures, info, tuple(broken), registries, origin,
                    pristine)


def _register_into(pm: pluggy.PluginManager, source: Source,
                   info: dict[str, PluginInfo]) -> list[str]:
    """Register ``source`` with ``pm``; the problems that prevented it, if any."""
    if pm.has_plugin(source.name):
        return [f"its name is already taken by {describe_info(info[source.name])}"]
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
                    f"(the hooks are {', '.join(KINDS.values())})"
                )
    return problems


def _collect(pm: pluggy.PluginManager, source: Source,
             registered: dict[str, list[Entry]]) -> list[str]:
    """Call ``source``'s hooks, filling ``registered``; the problems found, if any."""
    problems: list[str] = []
    for kind, hook_name in KINDS.items():
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


def _call_hook(impl: Any, kind: str, entries: list[Entry]) -> list[str]:
    problems: list[str] = []
    open_ = True
    what = SINGULAR[kind]
    hook_name = KINDS[kind]

    def _register(name: str, obj: Any) -> None:
        problem = None
        if not open_:
            problem = f"it called register() after {hook_name} had returned"
        elif not isinstance(name, str) or not name:
            problem = f"it registered a {what} under {show(name)}; names must be non-empty strings"
        elif not callable(obj):
            problem = (f"it registered {what} {str(name)!r} as {type(obj).__name__}, "
                       "which is not callable")
        elif any(e.name == name for e in entries):
            problem = f"it registered {what} {str(name)!r} twice"
        elif name in RESERVED.get(kind, {}):
            problem = f"it registered {what} {name!r}, a name skkd reserves: {RESERVED[kind][name]}"
        if problem is not None:
            problems.append(problem)
            raise PluginError(problem)
        entries.append(Entry(str(name), obj, impl.plugin_name))

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


# --------------------------------------------------------------------------- describing


def show(value: object) -> str:
    """``repr`` of a value as the user wrote it (``0``, not ``np.int64(0)``)."""
    if isinstance(value, str):
        return repr(str(value))
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        try:
            return repr(value.item())
        except (TypeError, ValueError):
            pass
    return repr(value)


def describe_info(info: PluginInfo) -> str:
    """``plugin 'p' (distribution 'd')``, as error messages name a plugin."""
    return f"plugin {info.name!r} (distribution {info.distribution!r})"


def skip_message(info: PluginInfo, snap: Snapshot) -> str:
    """The :class:`~skkd.exceptions.PluginWarning` text for broken plugin ``info`` of ``snap``."""
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
    return (f"skkd skipped {describe_info(info)}: {info.error}. All its registrations are "
            f"dropped; the other plugins keep working. {remedy[0].upper()}{remedy[1:]}.")
