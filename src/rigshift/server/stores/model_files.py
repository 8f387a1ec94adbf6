"""The control plane's model store: GGUF files rigs fetch once into their model cache.

Files live flat in one directory (`<data dir>/model-store` by default). Rigs download with the join
token (`GET /internal/models/{name}`, what `rigshift.run.model_cache` asks for); operators upload
with an admin key (`PUT /admin/models/{name}`), streamed to a temporary file and renamed, so a
half-uploaded model is never served.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from rigshift.errors import InputError

# A file name, nothing that could climb out of the store directory. Matched with `fullmatch`:
# `$` alone also matches before a trailing newline ("x.gguf\n" used to pass).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@dataclass(frozen=True)
class StoredModel:
    name: str
    size_bytes: int
    sha256: str | None


class ModelStore:
    def __init__(self, root: Path):
        self.root = root

    def path(self, name: str) -> Path:
        if not _NAME.fullmatch(name) or name.endswith((".part", ".sha256")):
            raise InputError(
                f"bad model file name {name!r}",
                field="name",
                expected="letters, digits, '.', '_' and '-' (e.g. llama-3.1-8b.Q4_K_M.gguf)",
            )
        return self.root / name

    def list(self) -> list[StoredModel]:
        if not self.root.is_dir():
            return []
        return [
            StoredModel(p.name, p.stat().st_size, self._sha(p))
            for p in sorted(self.root.iterdir())
            if p.is_file() and _NAME.fullmatch(p.name) and not p.name.endswith((".part", ".sha256"))
        ]

    def _sha(self, path: Path) -> str | None:
        side = path.with_name(path.name + ".sha256")
        return side.read_text().strip() if side.is_file() else None

    def open_upload(self, name: str) -> tuple[Path, Path]:
        """(temporary path to write, final path); `finish_upload` renames one to the other."""
        final = self.path(name)
        self.root.mkdir(parents=True, exist_ok=True)
        return final.with_name(f"{final.name}.{os.getpid()}.{id(final)}.part"), final

    @staticmethod
    def finish_upload(tmp: Path, final: Path, sha256_hex: str) -> None:
        final.with_name(final.name + ".sha256").write_text(sha256_hex + "\n")
        os.replace(tmp, final)


class HashingWriter:
    """Write chunks to a file while hashing them (model uploads are verified by the rig's cache;
    Batch API files by their stored checksum: `file_blobs.BlobWriter`)."""

    def __init__(self, path: Path):
        self._file = path.open("wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> str:
        """Flush to disk and close (once; later calls only return the checksum)."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        return self.sha256()
