"""Keyword options checked against the signature of what receives them."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from skkd.exceptions import InvalidParameterError


def check_options(prefix: str, options: Mapping[str, Any], target: Any, owner: str,
                  skip: int = 0, reserved: Iterable[str] = ()) -> None:
    """Check that every ``prefix`` option names a keyword argument of ``target``.

    ``skip`` leading positional parameters and the ``reserved`` names are
    supplied by skkd, not by options. A target taking ``**kwargs`` accepts
    anything.

    Raises
    ------
    InvalidParameterError
        Naming the option, the prefix and the accepted options.
    """
    if not options:
        return
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # builtins without a signature: nothing to check
        return
    parameters = list(signature.parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    named = [p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    accepted = [p.name for p in named[skip:] if p.name not in set(reserved)]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InvalidParameterError(
            f"{', '.join(prefix + k for k in unknown)}: {owner} takes no option "
            f"{', '.join(map(repr, unknown))}. Accepted {prefix}* options: "
            f"{', '.join(accepted) or 'none'}."
        )


def shape_arguments(target: Any, options: Mapping[str, Any], n_features: int,
                    n_classes: int) -> dict[str, int]:
    """``n_features`` and ``n_classes`` for a module class that takes them and did not get them.

    A student given as a class is built as registered models are: its
    constructor's ``n_features`` / ``n_classes`` parameters are filled in from
    the data unless a ``module__*`` option sets them.
    """
    try:
        names = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}
    shape = {"n_features": n_features, "n_classes": n_classes}
    return {k: v for k, v in shape.items() if k in names and k not in options}
