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

    def find(self, name: str) -> Any | None:
        """What `name` is registered as, or None: for a name read back from a run, which a
        plug-in this process has not loaded may have written (its readers then fall back to
        the base class's declarations)."""
        _load_plugins()
        return self._items.get(name)

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
EVALUATORS = Registry("evaluator", "hwnas list evaluators")
BENCHMARK_FORMATS = Registry("benchmark format", "hwnas list formats")
PROFILERS = Registry("backend", "hwnas list backends")

# Packages whose every module registers plug-ins where they are defined.
PLUGIN_PACKAGES = ("hwnas.spaces", "hwnas.strategies", "hwnas.estimators",
                   "hwnas.evaluation.evaluators", "hwnas.tabular.formats")
# Modules outside hwnas that register plug-ins: comma-separated import names in this variable,
# or modules advertised under the `hwnas.plugins` entry-point group of an installed package.
PLUGINS_ENV = "HWNAS_PLUGINS"
ENTRY_POINT_GROUP = "hwnas.plugins"

_loaded = False


def _load_plugins() -> None:
    """Import the plug-in packages once so their modules register themselves.

    lazy: by name, on first use of a registry. The plug-ins import this module (to register),
    and sit in layers above it (README "Layout"); loading them is the registry's late binding,
    not a dependency of the bottom layer on theirs."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import os
    import pkgutil
    from importlib.metadata import entry_points

    for package_name in PLUGIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")
    importlib.import_module("hwnas.tables.backends")  # the standalone profilers' backends
    for name in filter(None, (n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise BadInputError(f"plug-in module {name!r} named in {PLUGINS_ENV} cannot be "
                                f"imported ({exc}); fix {PLUGINS_ENV} or install the module"
                                ) from None
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        entry.load()
