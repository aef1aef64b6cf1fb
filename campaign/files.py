"""Content-addressed storage of the original uploaded files: every submission keeps its file."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StoredOriginal:
    sha256: str
    size_bytes: int
    path: Path            # absolute path of the stored copy
    relative_path: str    # relative to the files directory (what the database keeps)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def store_original(source: Path, files_dir: Path) -> StoredOriginal:
    """Copy `source` to files_dir/ab/abcdef... (idempotent: the same content is stored once)."""
    digest = sha256_of(source)
    relative = f"{digest[:2]}/{digest}"
    target = files_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)  # atomic: a crash never leaves a half-written original
    return StoredOriginal(digest, target.stat().st_size, target, relative)
