"""Files at rest: the content-addressed originals of every upload, and what keeps personal data on disk
readable by the system's own user only (docs/data-protection.md).

- `private_umask()`: the process creates directories 0700 and files 0600 (set once at start, by
  `campaign.runtime.configure_environment`); `private_dir`, `make_private`, `make_tree_private` for code
  that may run under another umask or copies files with their modes (shutil.copytree keeps 0644).
- `store_original`: every submission keeps its file, 0600 in a 0700 directory whatever the umask.
- `seal`/`unseal` and `cache_key`: a cache file is AES-256-GCM with a key kept outside the cache, so a copy
  of the cache alone reveals no name, ID or phone, and a changed file is refused before it is unpickled.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from campaign.settings import Settings

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> int:
    """From now on this process (and the processes it starts: Prefect's server, the portal's workers)
    creates directories 0700 and files 0600. Returns the previous umask."""
    previous = os.umask(PRIVATE_UMASK)
    os.umask(previous | PRIVATE_UMASK)   # keep whatever the caller already withheld from the owner
    return previous


def make_private(path: Path) -> None:
    """0700 for a directory, 0600 for a file (a symbolic link is left alone: its target is not ours)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return
    mode = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)


def private_dir(path: Path, *, tighten: bool = True) -> Path:
    """`mkdir -p` whose every created level is 0700; with `tighten`, the directory itself is made 0700 if
    it existed (only for the system's own directories: never a shared one such as /tmp)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for level in reversed(missing):
        with contextlib.suppress(FileExistsError):   # another process made it meanwhile
            level.mkdir(mode=DIR_MODE)
        make_private(level)
    if tighten:
        with contextlib.suppress(PermissionError):   # a directory someone else owns is not ours to change
            make_private(path)
    return path


def make_tree_private(root: Path) -> None:
    """Every directory and file under `root` (and `root`) to 0700/0600: for trees third-party code copies
    with their package's modes (Great Expectations' Data Docs copy their static files 0644)."""
    if not root.exists():
        return
    make_private(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            make_private(Path(dirpath) / name)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (a reader sees the old file or the new one), 0600."""
    private_dir(path.parent)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")   # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------------------
# Sealed files: caches of personal data
# ---------------------------------------------------------------------------------------------------------

SEAL_MAGIC = b"campaign-sealed-v1\n"
KEY_BYTES = 32
_NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed file that this key cannot open: another key, another file's content, or damaged."""


def seal(data: bytes, key: bytes, *, context: bytes = b"") -> bytes:
    """`data` encrypted and authenticated (AES-256-GCM, a random nonce); `context` (e.g. the file's name)
    is authenticated too, so a sealed file moved to another name does not open."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    return SEAL_MAGIC + nonce + AESGCM(key).encrypt(nonce, data, SEAL_MAGIC + context)


def unseal(blob: bytes, key: bytes, *, context: bytes = b"") -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not blob.startswith(SEAL_MAGIC) or len(blob) < len(SEAL_MAGIC) + _NONCE_BYTES + 16:
        raise SealError("not a sealed file")
    head = len(SEAL_MAGIC)
    nonce, body = blob[head:head + _NONCE_BYTES], blob[head + _NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, body, SEAL_MAGIC + context)
    except InvalidTag:
        raise SealError("the key does not open this file (another key, or the file was changed)") from None


def _decode_key(text: str, origin: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError(f"{origin}: the cache key must be {KEY_BYTES} bytes in URL-safe base64 "
                         "(e.g. python -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')")
    return key


def cache_key(settings: Settings) -> bytes:
    """The key of the sealed caches: CAMPAIGN_CACHE_KEY, else `keys_dir/cache.key`, generated once (0600 in
    a 0700 directory; two processes starting together agree on one key)."""
    if settings.cache_key is not None:
        return _decode_key(settings.cache_key.get_secret_value(), "CAMPAIGN_CACHE_KEY")
    path = settings.keys_dir / "cache.key"
    return _decode_key(key_file_text(path, KEY_BYTES), str(path))


def key_file_text(path: Path, size: int) -> str:
    """The text of a key file under CAMPAIGN_HOME's keys, made once with `size` random bytes in URL-safe
    base64 (0600 in a 0700 directory; two processes starting together agree on one key: the first link
    wins, never replaced)."""
    if not path.exists():
        private_dir(path.parent)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(base64.urlsafe_b64encode(secrets.token_bytes(size)) + b"\n")
            with contextlib.suppress(FileExistsError):   # never replaces a key another process wrote first
                os.link(name, path)
        finally:
            Path(name).unlink(missing_ok=True)
    return path.read_text(encoding="ascii")


# ---------------------------------------------------------------------------------------------------------
# Original uploads
# ---------------------------------------------------------------------------------------------------------


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
    private_dir(files_dir)
    if target.exists():
        make_private(target)   # stored by an older version under a looser umask
    else:
        private_dir(target.parent)
        # a partial file of its own: two uploads of the same bytes at once (two districts, a double
        # click) must not move each other's copy away; whichever lands last replaces identical content
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{digest[:16]}-", suffix=".partial")
        os.close(fd)
        partial = Path(name)
        try:
            shutil.copyfile(source, partial)   # copies bytes only: the partial keeps mkstemp's 0600
            partial.replace(target)  # atomic: a crash never leaves a half-written original
        finally:
            partial.unlink(missing_ok=True)
    return StoredOriginal(digest, target.stat().st_size, target, relative)
