"""What the CLI calls, one module per job: profile, search, pareto, export (and tables, bench).

Every function takes plain arguments, validates them where they enter and returns data; no
rendering. An optional `progress` callback receives one dict per step so a UI can render it.
Submodules import their heavy dependencies (torch, pymoo) only when called.
"""

from hwnas.api.export import export
from hwnas.api.pareto import pareto
from hwnas.api.profile import profile
from hwnas.api.search import search

__all__ = ["export", "pareto", "profile", "search"]
