"""The `device` option of every plug-in that trains on a torch device: one declaration, one check.

The scratch and shared estimators and the weight-sharing and one-shot strategies each take
`device`. Declared as `Device()`, its value is checked where every option is (`resolve_options`,
before a run directory is written): its form first (`cpu`, `cuda` or `cuda:N`: torch itself
would take `mps` or `meta` and fail minutes later, or answer `banana` with a traceback), then
whether this machine has that CUDA device. torch is imported only for a CUDA value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hwnas.options import Option, option_error

ALLOWED = "'cpu', 'cuda' or 'cuda:N' for GPU N"
_FORM = re.compile(r"cpu|cuda(:[0-9]+)?")


@dataclass(frozen=True)
class Device(Option):
    default: Any = "cpu"
    kind: type = str
    help: str = "torch device that trains: cpu, cuda or cuda:N"

    def describe(self) -> str:
        return ALLOWED

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and _FORM.fullmatch(value) is not None

    def invalid_values(self) -> list:
        return ["banana", "mps", "cuda:", "cuda:x", "cpu:0", 3, None]

    def check_machine(self, value: Any, owner: str, hint: str = "") -> None:
        check_device(value, owner, hint)


def check_device(value: str, owner: str, hint: str = "") -> None:
    """Refuse, in the option template, a CUDA device this machine does not have: `cuda` where
    torch finds no GPU (a CPU-only build, no driver), `cuda:N` past the last GPU."""
    if not value.startswith("cuda"):
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(value.partition(":")[2] or 0)
    if index < count:
        return
    here = ("'cpu' here (torch finds no CUDA device on this machine)" if count == 0 else
            f"'cpu' or one of {', '.join(repr(f'cuda:{i}') for i in range(count))} here "
            f"(this machine has {count} CUDA device{'s' if count > 1 else ''})")
    raise option_error("device", owner, here, value, hint)
