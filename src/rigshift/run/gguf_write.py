"""Write a GGUF file atomically with llama.cpp's `gguf` writer (a temp file, then a rename)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_gguf(path: str | os.PathLike[str], architecture: str, fill: Callable[[Any], None]) -> Path:
    """Create `path` from what `fill(writer)` adds (keys and tensors) to a `gguf.GGUFWriter`;
    nothing appears at `path` unless the whole file was written."""
    import gguf  # imported here: only the demo, tests and benches write models

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    writer = gguf.GGUFWriter(str(tmp), architecture)
    try:
        fill(writer)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(tmp, target)
    return target
