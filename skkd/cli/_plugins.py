"""``skkd plugins``: the installed plugins and what each registers."""

from __future__ import annotations

import argparse
import json


def _label(info) -> str:
    return f"{info.name} ({' '.join(filter(None, (info.distribution, info.version)))})"


def plugins_command(args: argparse.Namespace) -> int:
    import warnings

    from skkd import plugins

    with warnings.catch_warnings():  # the broken plugins are listed below instead
        warnings.simplefilter("ignore", plugins.PluginWarning)
        infos = plugins.list_plugins()
    broken = plugins.broken_plugins()
    if args.json:
        print(json.dumps([
            {"name": i.name, "distribution": i.distribution, "version": i.version,
             "registers": i.registered, "error": i.error} for i in (*infos, *broken)
        ], indent=2))
        return 0
    for info in infos:
        print(_label(info))
        for kind, names in info.registered.items():
            if names:
                print(f"  {kind}: {', '.join(names)}")
    if broken:
        print()
        print(f"skipped (broken; {plugins.ALLOW_ENV} can leave them out):")
        for info in broken:
            print(_label(info))
            print(f"  error: {info.error}")
    return 0
