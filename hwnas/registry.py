"""One Registry class; the instances every plug-in registers itself into where it is defined."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from hwnas.errors import BadInputError


class Registry:
    """Names to factories. `@SPACES.register("proxyless")` on a class registers it."""

    def __init__(self, kind: str, list_command: str = ""):
        self.kind = kind
        self.list_command = list_command
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def decorate(obj: Any) -> Any:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            obj.registry_name = name
            return obj

        return decorate

    def get(self, name: str) -> Any:
        _load_plugins()
        if name in self._items:
            return self._items[name]
        raise BadInputError(self.unknown_message(name))

    def unknown_message(self, name: str) -> str:
        names = self.names()
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.3)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        nxt = f" (see `{self.list_command}`)" if self.list_command else ""
        return f"unknown {self.kind} {name!r}; allowed: {', '.join(names)}{hint}{nxt}"

    def names(self) -> list[str]:
        _load_plugins()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        _load_plugins()
        return name in self._items


SPACES = Registry("search space", "hwnas list spaces")
STRATEGIES = Registry("strategy", "hwnas list strategies")
ESTIMATORS = Registry("estimator", "hwnas list estimators")
PROFILERS = Registry("backend", "hwnas list backends")

_loaded = False


def _load_plugins() -> None:
    """Import the plug-in packages once so their modules register themselves."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil

    for package_name in ("hwnas.spaces", "hwnas.strategies", "hwnas.estimators"):
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")
    importlib.import_module("hwnas.tables.backends")  # the standalone profilers' backends
