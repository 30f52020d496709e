"""Atomic writes: a reader never sees a half-written file, a crash never leaves one.

Every file hwnas writes whole (tables, run configs, fronts, plots, exports) goes through
`atomic_write`: a temp file next to the target, synced, then renamed over it. The file gets
the mode `open(path, "w")` would give it (0666 less the process umask, e.g. 0644 under 022):
tables and runs are meant to be shared, and mkstemp's private 0600 would hide them.

`check_output` and `check_input_file` check paths before any work (see below); `read_regular`
reads a file only when it is one (a FIFO or /dev/zero in its place would hang the reader).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Yield a binary file to write; on a clean exit it replaces `path` in one rename, on an
    exception it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def exclusive_lock(lock_path: str | os.PathLike, refusal) -> Iterator[int]:
    """Hold an flock on `lock_path` (created, with its folder, if missing) for the block;
    yields its file descriptor. Held elsewhere: `refusal()`, an exception, is raised. An flock,
    not a lock file's existence: the kernel drops it when its holder dies, so the lock of a
    killed writer is stale by construction and the next one just takes it."""
    import fcntl

    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_NONBLOCK: a FIFO put in its place must be refused, not block the open
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:  # a folder, a symlink loop, no permission
        raise _unusable_lock(lock_path, why(exc)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _unusable_lock(lock_path, "is not a regular file (a FIFO or device)")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise refusal() from None
    try:
        yield fd
    finally:
        os.close(fd)  # releases the flock


def _unusable_lock(lock_path: Path, reason: str):
    from hwnas.errors import BadInputError

    return BadInputError(f"the lock file {lock_path} cannot be used ({reason}); it is hwnas's "
                         "own: remove it (it is made again) and run the command again")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_write(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n"
    return atomic_write_bytes(path, text.encode())


def json_ready(obj):
    """`obj` as a JSON file can hold it: JSON has no inf/NaN, so those become null (an IGD
    before any feasible point is inf, a noise floor of no re-measured network NaN); a numpy
    scalar becomes the Python number."""
    if getattr(obj, "ndim", None) == 0 and hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


def _umask() -> int:
    """The process umask. Linux shows it in /proc: reading it there avoids os.umask's
    set-and-restore, during which another thread's new file would get umask 0."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- reading a file that may not be one ---------------------------------------------------------
class NotAFileError(OSError):
    """A FIFO, device or socket where a file was expected: reading a FIFO blocks until some
    other process writes to it (for ever, usually), reading /dev/zero never ends."""


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """`path` opened for reading in binary, only when it is a regular file (symlinks
    followed). It is opened without blocking (opening a FIFO blocks by itself) and then
    checked with fstat, so the file read is the file checked. A folder raises
    IsADirectoryError, a FIFO or device NotAFileError; both are OSErrors, as are a missing
    file, a symlink loop or no permission, so a reader's `except OSError` covers them all."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", os.fspath(path))
        if not stat.S_ISREG(mode):
            raise NotAFileError(errno.EINVAL, "is not a regular file (a FIFO or device)",
                                os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike) -> bytes:
    """The bytes of `path`, a regular file (see `open_regular`)."""
    with open_regular(path) as fh:
        return fh.read()


def why(exc: OSError) -> str:
    """An OSError as the reason in a message: "is a folder, not a file", "Permission
    denied", "Too many levels of symbolic links"."""
    return exc.strerror or str(exc)


# -- paths checked before any work ---------------------------------------------------------------
# A command that measures for 40 s, or trains for minutes, must not find out only then that its
# output cannot be written. Every command that writes checks its output paths with
# `check_output` first, and every file it reads with `check_input_file`; both answer a bad path
# with one BadInputError line naming the flag and what is wrong, and create nothing.

_NAME_MAX = 255  # bytes of one path component on Linux/macOS file systems
_PATH_MAX = 4096  # bytes of a whole path (Linux)


def check_output(path: str | os.PathLike, flag: str, *, folder: bool = False,
                 suffixes: tuple[str, ...] = (), default: bool = False) -> Path:
    """Refuse an output path that cannot be written: a name too long, a component that is a
    file (or a symlink loop), a folder where a file goes or the reverse, a folder this process
    cannot create files in (permissions, a read-only or pseudo file system such as /proc).

    `folder`: the path is a folder the command makes and fills (a run directory), else a file
    written whole; `suffixes`: the endings a file must have (".json"). `flag` names the option
    in the message ("--out"); `default`: the path is the flag's default, not given. Nothing is
    created: the probe of the nearest existing folder is an empty temporary folder, removed at
    once. Returns the path."""
    from hwnas.errors import BadInputError

    text = os.fspath(path)
    what, fix = (f"the default {flag}", f"pass {flag}") if default else \
        (flag, f"give another {flag}")

    def refuse(reason: str) -> BadInputError:
        return BadInputError(f"{what} {text!r} cannot be written: {reason}; {fix}")

    if not text.strip() or "\x00" in text:
        raise refuse("it is not a path")
    target = Path(text)
    if suffixes and target.suffix.lower() not in suffixes:
        raise refuse(f"the file must end in {' or '.join(suffixes)}")
    _check_lengths(target, refuse)
    absolute = Path(os.path.abspath(target))
    existing, status = _nearest_existing(absolute, refuse)
    if existing == absolute:
        _check_existing_target(absolute, status, folder, refuse)
        where = absolute if folder else absolute.parent
    else:
        if not stat.S_ISDIR(status.st_mode):
            raise refuse(f"{existing} is a file, not a folder")
        where = existing
    _check_can_create_in(where, refuse)
    return target


def check_input_file(path: str | os.PathLike, what: str, hint: str = "") -> Path:
    """Refuse, before opening it, an input that is not a regular file: absent, a folder, or a
    FIFO or device (reading one blocks for ever or never ends). `what` says what the file is
    ("latency table"); `hint` is the next step ("make one with `hwnas profile`")."""
    from hwnas.errors import BadInputError

    target = Path(path)
    try:
        mode = target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        reason = "does not exist"
    except OSError as exc:  # a symlink loop, a name too long, no permission
        reason = f"cannot be read ({exc.strerror or exc})"
    else:
        if stat.S_ISREG(mode):
            return target
        reason = "is a folder, not a file" if stat.S_ISDIR(mode) else \
            "is not a regular file (a FIFO or device would block or never end)"
    raise BadInputError(f"{what} {str(path)!r} {reason}{'; ' + hint if hint else ''}")


def may_exist(path: str | os.PathLike) -> bool:
    """False only when `path` certainly does not exist (ENOENT, ENOTDIR): unlike Path.exists,
    a name too long or a symlink loop is not an exception here but True, so that
    `check_input_file` is reached and names the problem."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, ValueError):
        return True
    return True


def _check_lengths(target: Path, refuse) -> None:
    for part in target.parts:
        size = len(os.fsencode(part))
        if size > _NAME_MAX:
            raise refuse(f"the name {part[:24]!r}... is {size} bytes long, more than the "
                         f"{_NAME_MAX} a file name may have")
    size = len(os.fsencode(os.path.abspath(target)))
    if size >= _PATH_MAX:
        raise refuse(f"the path is {size} bytes long, more than the {_PATH_MAX - 1} allowed")


def _nearest_existing(absolute: Path, refuse) -> tuple[Path, os.stat_result]:
    """The path itself or its nearest ancestor that exists, with its stat (symlinks followed)."""
    for candidate in (absolute, *absolute.parents):
        try:
            return candidate, candidate.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue  # not there (yet), or under a file: the ancestor says which
        except OSError as exc:  # ELOOP (a symlink loop), EACCES
            raise refuse(f"{candidate}: {exc.strerror or exc}") from None
    raise refuse("no folder of it exists")


def _check_existing_target(absolute: Path, status: os.stat_result, folder: bool,
                           refuse) -> None:
    if folder and not stat.S_ISDIR(status.st_mode):
        raise refuse("it is a file, not a folder")
    if not folder:
        if stat.S_ISDIR(status.st_mode):
            raise refuse("it is a folder, not a file")
        if not stat.S_ISREG(status.st_mode):
            raise refuse("it is not a regular file (a FIFO or device)")
        # A file is replaced by a rename, which its own permissions do not stop: one made
        # read-only (by its mode, which root's os.access ignores) is kept as it is.
        if not os.access(absolute, os.W_OK) or not status.st_mode & 0o222:
            raise refuse("it is read-only (make it writable to let hwnas replace it)")


def _check_can_create_in(folder: Path, refuse) -> None:
    """Whether this process can create entries in `folder`: permissions and read-only mounts
    first, then a probe (root passes every permission check, yet cannot create in /proc)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        raise refuse(f"no permission to create files in {folder}")
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False  # statvfs unsupported here: the probe below decides
    if read_only:
        raise refuse(f"{folder} is on a read-only file system")
    try:
        probe = tempfile.mkdtemp(prefix=".hwnas-probe-", dir=folder)
    except OSError as exc:
        raise refuse(f"cannot create files in {folder} ({exc.strerror or exc})") from None
    os.rmdir(probe)
