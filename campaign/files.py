"""Content-addressed storage of the original uploaded files: every submission keeps its file."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
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


def relative_path(digest: str) -> str:
    """Where the original with this SHA-256 lives under the files directory."""
    return f"{digest[:2]}/{digest}"


def store_original(source: Path, files_dir: Path) -> StoredOriginal:
    """Copy `source` to files_dir/ab/abcdef... (idempotent: the same content is stored once)."""
    digest = sha256_of(source)
    relative = relative_path(digest)
    target = files_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # a partial file of its own: two uploads of the same bytes at once (two districts, a double
        # click) must not move each other's copy away; whichever lands last replaces identical content
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{digest[:16]}-", suffix=".partial")
        os.close(fd)
        partial = Path(name)
        try:
            shutil.copyfile(source, partial)
            partial.replace(target)  # atomic: a crash never leaves a half-written original
        finally:
            partial.unlink(missing_ok=True)
    return StoredOriginal(digest, target.stat().st_size, target, relative)
