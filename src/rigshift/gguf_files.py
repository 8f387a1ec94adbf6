"""GGUF files written into place whole: the bench's zero-weight models, the demo's tiny model and
its tiny LoRA adapter. A reader (llama.cpp, a second writer) never sees a half-written file at the final path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gguf


@contextmanager
def gguf_writer(path: Path, arch: str = "llama") -> Iterator[gguf.GGUFWriter]:
    """A writer on a temp file beside `path`: what the block adds is written out when it ends and
    the file renamed onto `path`; if the block raises, nothing lands at `path`."""
    import gguf  # heavy: only the commands that write a model load it

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    writer = gguf.GGUFWriter(str(tmp), arch)
    try:
        yield writer
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(tmp, path)
