"""Writing the files rigshift produces (fleets, plans, reports): atomically, with the user's umask.

`tempfile.mkstemp` creates files 0600; renamed into place they kept that mode, so a report written
for a colleague could not be read by them. The temp file gets the mode a plain `open()` would
give a new file (0666 less the umask), or the mode of the file it replaces.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from rigshift.errors import InputError, Problem


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], content: str | bytes, make_dirs: bool = False) -> Path:
    """Temp file in the target's directory (same filesystem, so the rename is atomic), flushed to
    disk, then renamed over the target: a crash or a refused run never leaves a half-written or
    emptied report, plan or fleet file. A missing directory is created only with `make_dirs`
    (a mistyped report path should be an error, not a new folder); one that cannot be written
    is an InputError, the old file intact."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        if make_dirs:
            directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise InputError(Problem(f"cannot write: {error.strerror or error}", source=str(path))) from None
    try:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            mode = 0o666 & ~_current_umask()
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:  # disk full, a directory in the way: an input error, the old file intact
        Path(tmp).unlink(missing_ok=True)
        raise InputError(Problem(f"cannot write: {error.strerror or error}", source=str(path))) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = ["write_atomic"]
