"""Output files that appear whole or not at all.

Every file hcanalysis writes goes through :func:`atomic_output`: the content is written to a
hidden temporary sibling (``.NAME.partial-PID``), which is renamed over the target only when
writing succeeded, so an interrupted or failed command never leaves a truncated file behind
(and never one that a rerun would refuse as "exists"). The file gets the permissions a plain
``open(path, "w")`` would give (``0o666`` less the umask). A full disk is reported as one
line, :class:`~hcanalysis.errors.DiskFullError`.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hcanalysis.errors import DiskFullError


def file_mode() -> int:
    """Permissions of a new file under the process umask (``0o666 & ~umask``)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def is_disk_full(exc: BaseException) -> bool:
    """Whether an exception (also h5py's, which keep the errno only in the text) is ENOSPC or
    a quota overrun."""
    codes = {errno.ENOSPC, errno.EDQUOT}
    if isinstance(exc, OSError) and exc.errno in codes:
        return True
    text = str(exc)
    return any(s in text for s in ("No space left on device", "Disk quota exceeded",
                                   f"errno = {errno.ENOSPC}"))


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file, or a directory's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary sibling ``path`` is written to before the rename."""
    p = Path(path)
    return p.with_name(f".{p.name}.partial-{os.getpid()}")


@contextmanager
def atomic_output(path: str | os.PathLike, *, copy_existing: bool = False,
                  durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` when the block succeeds.

    Parameters
    ----------
    path : path-like
        The final file.
    copy_existing : bool
        Start from a copy of an existing ``path`` (to append to it, e.g. an HDF5 file opened
        with mode "a"): the original stays untouched until the new version is complete.
    durable : bool
        Also flush the file and the directory entry to disk (fsync) before and after the
        rename, so that the new version survives a power loss, not only a killed process (for
        files that other files are committed against, such as an MD trajectory's map).

    Raises
    ------
    DiskFullError
        When the disk (or quota) fills up while writing; nothing is left behind.
    """
    final = Path(path)
    tmp = partial_path(final)
    try:
        if copy_existing and final.exists():
            shutil.copyfile(final, tmp)
        yield tmp
        os.chmod(tmp, file_mode())
        if durable:
            fsync_path(tmp)
        os.replace(tmp, final)
        if durable:
            fsync_path(final.parent)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFullError(
                f"{final}: disk full (no space left on device) while writing; nothing was "
                "written: free some space or choose another output folder, then rerun"
            ) from exc
        raise
