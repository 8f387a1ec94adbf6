"""Write a file so that readers see the old content or the new, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rigshift.errors import InputError, Problem


def write_atomic(path: str | os.PathLike[str], content: str | bytes, make_dirs: bool = False) -> Path:
    """Temp file in the target's directory (same filesystem, so the rename is atomic), flushed to
    disk, then renamed over the target: a crash or a refused run never leaves a half-written or
    emptied report, plan or fleet file. A missing directory is created only with `make_dirs`
    (a mistyped report path should be an error, not a new folder); one that cannot be written
    is an InputError."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        if make_dirs:
            directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise InputError(Problem(f"cannot write: {error.strerror or error}", source=str(path))) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:  # the target is a directory, the disk is full, ...
        Path(tmp).unlink(missing_ok=True)
        raise InputError(Problem(f"cannot write: {error.strerror or error}", source=str(path))) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
