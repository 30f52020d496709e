"""Reading a weights file (`.pt`) that may be damaged, replaced or hostile.

A `.pt` file is a pickle: loaded without restriction, it runs whatever code it names. hwnas
loads every one with torch's `weights_only=True`, which refuses anything but tensors and plain
containers; a refusal is one line naming the file. Torch's own message is not relayed: it
suggests loading the file again without the restriction, the one thing not to do with a file
that was refused.
"""

from __future__ import annotations

import io
import os
import warnings

from hwnas.errors import BadInputError
from hwnas.fileio import read_regular, why


def load_tensors(path: str | os.PathLike, what: str, fix: str):
    """The object saved in `path`, loaded as tensors only, on the CPU. `what` names the file
    in a refusal ("the trained weights of candidate 3f2a"), `fix` is the next step. The file is
    read only when it is a regular file (a FIFO in its place would block the load)."""
    import torch

    try:
        data = read_regular(path)
    except OSError as exc:
        raise BadInputError(f"{what}, {path}, cannot be read ({why(exc)}); {fix}") from None
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle's protocol, on
            warnings.simplefilter("ignore")  # stderr, before the refusal said here in one line
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a file not its own
        raise BadInputError(f"{what}, {path}, is not a file of tensors hwnas wrote "
                            f"({type(exc).__name__}; hwnas loads weights as tensors only, "
                            f"never code that a file names); {fix}") from None


def load_state_dict(path: str | os.PathLike, what: str, fix: str) -> dict:
    """A state dict (parameter name -> tensor) saved in `path`; anything else is refused in
    one line, as `load_tensors` refuses a file that is not tensors."""
    import torch

    state = load_tensors(path, what, fix)
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise BadInputError(f"{what}, {path}, holds no state dict (parameter name -> tensor); "
                            f"{fix}")
    return state
