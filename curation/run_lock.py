"""One curation run per output folder, and output-disk errors as one line.

``run_lock(out_dir)`` holds ``OUT/.midtrain-curate.lock`` (created with ``O_EXCL``; it records the
owner's pid, host and start time) for the length of a run. A second run into the same folder
refuses with one line naming the folder and the owner. A lock left by a dead process on this host
is taken over with a warning; one from another host cannot be checked, so the message says how
to remove it by hand.

``output_errors(path)`` turns an ``OSError`` from creating or writing the output folder
(read-only file system, disk full, no permission, a path through a file) into an
``OutputFolderError`` naming the path, the cause and the fix, instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".midtrain-curate.lock"
log = logging.getLogger(__name__)

_DISK_FIXES = {
    errno.EROFS: ("the file system is read-only", "choose an --out on a writable disk"),
    errno.ENOSPC: ("the disk is full", "free space there or choose an --out on another disk"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space there or choose an --out on another disk"),
    errno.EACCES: ("permission denied", "choose an --out you can write to"),
    errno.EPERM: ("operation not permitted", "choose an --out you can write to"),
    errno.ENOTDIR: (
        "a part of the path is a file, not a folder",
        "choose an --out whose parents are folders",
    ),
    errno.EEXIST: ("a file is in the way of a folder", "remove that file or choose another --out"),
}


class OutputFolderError(ValueError):
    """The output folder cannot be used; ``fix`` says what to do (printed by the CLI)."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.fix = fix


class RunLockedError(OutputFolderError):
    """Another run holds the output folder."""


@contextlib.contextmanager
def output_errors(path: Path) -> Iterator[None]:
    """Re-raise a disk-level OSError (see ``_DISK_FIXES``) as one ``OutputFolderError`` line.

    A permission or path error on a file outside ``path`` (an input) is left alone: it is not
    about the output folder. A full or read-only disk is reported wherever it happens.
    """
    try:
        yield
    except OSError as error:
        if error.errno not in _DISK_FIXES:
            raise
        where = Path(error.filename) if isinstance(error.filename, str) else path
        outside = not (where == path or path in where.parents)
        if outside and error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        cause, fix = _DISK_FIXES[error.errno]
        what = f"the output folder {path}" if not outside else f"{where} (output folder {path})"
        at = f" at {where}" if where != path and not outside else ""
        raise OutputFolderError(f"cannot write {what}: {cause}{at}", fix=fix) from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _read_owner(lock: Path) -> dict:
    try:
        return json.loads(lock.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _create(lock: Path, owner: dict) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(owner, f)
    return True


def acquire(out_dir: Path) -> Path:
    """Take ``out_dir``'s lock (creating the folder) or raise ``RunLockedError``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = out_dir / LOCK_NAME
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    for _ in range(3):  # a stale lock is removed, then the create is retried
        if _create(lock, owner):
            return lock
        held = _read_owner(lock)
        pid, host = held.get("pid"), held.get("host")
        if not isinstance(pid, int) or host != owner["host"] or _alive(pid):
            raise _locked(out_dir, lock, held)
        log.warning(f"{lock}: taking over the lock of pid {pid} on {host}, which is no longer running")
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
    raise _locked(out_dir, lock, _read_owner(lock))


def _locked(out_dir: Path, lock: Path, held: dict) -> RunLockedError:
    pid, host = held.get("pid", "?"), held.get("host", "?")
    since = f" since {held['started']}" if held.get("started") else ""
    return RunLockedError(
        f"{out_dir} is in use by another curation run (pid {pid} on {host}{since}); one run per folder",
        fix=f"wait for it, or choose another --out; if that run is gone, delete {lock}",
    )


def release(lock: Path) -> None:
    """Remove the lock if this process still owns it."""
    if _read_owner(lock).get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


@contextlib.contextmanager
def run_lock(out_dir: Path) -> Iterator[Path]:
    """Hold ``out_dir``'s lock for the ``with`` block."""
    lock = acquire(out_dir)
    try:
        yield lock
    finally:
        release(lock)
