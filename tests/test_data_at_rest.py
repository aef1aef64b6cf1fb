"""Personal data at rest (issue 18, docs/data-protection.md): everything the system writes is its own user's
only (directories 0700, files 0600) whatever umask it was started with, and the master list's cache holds
no ID or phone number in clear (sealed with a key kept outside it)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from campaign.config import load_campaign
from campaign.files import SealError, cache_key, make_tree_private, seal, store_original, unseal
from campaign.master_list import run as ml_run
from campaign.resources import private_sqlite_files
from campaign.settings import Settings
from campaign.store.db import make_engine, migrate
from tests.dedupe_support import background, store_rows

HEADER = ("STT,Họ và tên (*),Ngày sinh dạng dd/mm/yyyy (*),Giới tính (*),Mã nhóm đối tượng ưu tiên (*),"
          "Số điện thoại (*),Số CMT/CCCD,Xã/Phường (*)\n")
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Lan", "Minh", "Nga", "Phúc", "Quang", "Sơn", "Thảo"]
ROWS = ["1,Nguyễn Văn An,25/05/1980,0,9,0912345678,064080001234,Ia Glai\n",
        "2,Ksor H'Blang,15/03/1975,1,10,0351234567,231234567,Ia Glai\n",
        "3,,01/01/1990,1,9,0912345679,,Ia Glai\n",                       # no name: quarantined
        # a list the linkage model can be trained on (two rows alone make Splink's EM fail)
        *(f"{4 + i},Trần Thị {g},{1 + i:02d}/0{1 + i % 9}/19{60 + i},1,9,09876543{i:02d},0641{60 + i}0055{i:02d},Ia Tiêm\n"
          for i, g in enumerate(GIVEN))]
AT = dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC)
KEY = bytes(range(32))


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def loose(root: Path) -> list[str]:
    """Every directory not 0700 and file not 0600 under `root` (and `root`), as 'mode path'."""
    out = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
        if stat.S_IMODE(st.st_mode) != want:
            out.append(f"{stat.S_IMODE(st.st_mode):o} {path.relative_to(root)}")
    return out


# ---------------------------------------------------------------------------------------------------------
# The commands, as a district's file goes through them, started with umask 022
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def commands_home(tmp_path_factory) -> Path:
    """A home written by real commands in their own processes, started with umask 022 (the usual default,
    under which files come out 0644): an intake, the master list, a district's report."""
    work = tmp_path_factory.mktemp("at-rest")
    upload = work / "ds-doi-tuong.csv"
    upload.write_text(HEADER + "".join(ROWS), encoding="utf-8")
    home = work / "home"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PREFECT_") and k not in ("CAMPAIGN_DATABASE_URL", "CAMPAIGN_CACHE_KEY")}
    env.update(CAMPAIGN_HOME=str(home), CAMPAIGN_NOW="2021-07-28T08:00:00+07:00")
    commands = [["intake", str(upload), "-d", "633", "-k", "target_list"], ["master-list"],
                ["report", "--level", "district", "--unit", "633", "--format", "docx", "--format", "pdf"]]
    # the `campaign` command's own entry point, three commands in one process: one Prefect start, not three
    script = ("import sys\nfrom faces.cli import main\n"
              f"for args in {commands!r}:\n"
              "    code = main(args, standalone_mode=False)\n"
              "    if code:\n        sys.exit(f'{args[0]} exited {code}')\n")
    done = subprocess.run([sys.executable, "-c", script], env=env, umask=0o022, capture_output=True, timeout=900)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return home


@pytest.mark.slow
def test_commands_under_umask_022_write_only_private_files(commands_home) -> None:
    home = commands_home
    # what the steps wrote is all there, so the modes below are checked on real files
    expected = ["campaign.sqlite3", "files", "outputs/feedback/633", "data_docs/633", "prefect/prefect.db",
                "cache/master_list", "keys/cache.key", "outputs/reports/district"]
    assert all((home / p).exists() for p in expected), [p for p in expected if not (home / p).exists()]
    assert list((home / "files").rglob("*")) and list((home / "cache" / "master_list").glob("records-*.pkl"))
    reports = home / "outputs" / "reports"
    assert [p for p in loose(home) if not (home / p.split(" ", 1)[1]).is_relative_to(reports)] == []


@pytest.mark.slow
def test_reports_are_private_too(commands_home) -> None:
    assert loose(commands_home / "outputs" / "reports") == []


def test_sqlite_database_and_its_side_files_are_private_under_umask_022(tmp_path) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'campaign.sqlite3'}"
    with umask(0o022):
        private_sqlite_files(url, home)   # what Resources.create does before the engine opens the file
        engine = make_engine(url)
        migrate(engine)
        with engine.connect() as conn:   # an open connection keeps -wal and -shm on disk
            conn.execute(text("SELECT count(*) FROM submissions"))
            side = [Path(f"{home / 'campaign.sqlite3'}{s}") for s in ("-wal", "-shm")]
            assert all(p.exists() for p in side)
            assert loose(home) == []
        engine.dispose()
    # a database left 0644 by an earlier version is tightened at the next start
    (home / "campaign.sqlite3").chmod(0o644)
    home.chmod(0o755)
    assert private_sqlite_files(url, home) and loose(home) == []


def test_stored_originals_are_private_under_umask_022(tmp_path) -> None:
    source = tmp_path / "upload.csv"
    source.write_text(HEADER + "".join(ROWS), encoding="utf-8")
    files = tmp_path / "home" / "files"
    with umask(0o022):
        stored = store_original(source, files)
        assert loose(files) == [] and stored.path.read_bytes() == source.read_bytes()
        stored.path.chmod(0o644)           # stored by an older version
        store_original(source, files)      # the same bytes again: tightened, not copied again
    assert loose(files) == []


def test_configure_environment_sets_a_private_umask_and_home(tmp_path) -> None:
    # in a child process: the umask and PREFECT_HOME are process-wide
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    code = ("import os, pathlib; os.umask(0o022)\n"
            "from campaign.runtime import configure_environment\nfrom campaign.settings import Settings\n"
            f"configure_environment(Settings(home={str(home)!r}))\n"
            "pathlib.Path(os.environ['PREFECT_HOME']).mkdir(parents=True)\n"
            f"open({str(home / 'x.txt')!r}, 'w').close()\n"
            "print(oct(os.umask(0)))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "0o77"
    assert loose(home) == []   # the home (made 0755 before), Prefect's home and a new file


@pytest.mark.parametrize("database_url", [None, "sqlite:///db/app.sqlite3"])
def test_configure_environment_hands_children_absolute_paths(tmp_path, database_url) -> None:
    """A relative CAMPAIGN_HOME (and a relative SQLite file, a relative CAMPAIGN_CONFIG) reach the children
    absolute: Prefect's process worker runs each flow run in a temporary directory, where a relative home
    would put the run's database, outputs and keys (deleted afterwards)."""
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    child = ("import json; from campaign.settings import Settings; s = Settings(); "
             "print(json.dumps([str(s.home), s.resolved_database_url, str(s.config), str(s.keys_dir)]))")
    code = ("import os, subprocess, sys\n"
            "from campaign.runtime import configure_environment\nfrom campaign.settings import Settings\n"
            "configure_environment(Settings())\n"
            f"print(subprocess.run([sys.executable, '-c', {child!r}], cwd={str(elsewhere)!r}, check=True, "
            "capture_output=True, text=True).stdout)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CAMPAIGN_"))}
    env |= {"CAMPAIGN_HOME": "var", "CAMPAIGN_CONFIG": "config/campaign.yaml"}
    if database_url:
        env["CAMPAIGN_DATABASE_URL"] = database_url
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=work,
                          check=True)
    home, url, config, keys = json.loads(done.stdout)
    assert Path(home) == (work / "var").resolve()
    db = (work / "db" / "app.sqlite3") if database_url else (work / "var" / "campaign.sqlite3")
    assert url == f"sqlite:///{db.resolve()}"
    assert Path(config) == (work / "config" / "campaign.yaml").resolve()
    assert Path(keys) == (work / "var" / "keys").resolve()


def test_make_tree_private_tightens_a_copied_tree(tmp_path) -> None:
    tree = tmp_path / "site"
    (tree / "static").mkdir(parents=True, mode=0o755)
    (tree / "static" / "logo.png").write_bytes(b"x")
    (tree / "static" / "logo.png").chmod(0o644)
    make_tree_private(tree)
    assert loose(tree) == []


# ---------------------------------------------------------------------------------------------------------
# The master list's cache
# ---------------------------------------------------------------------------------------------------------


def _identifiers(rows: pd.DataFrame) -> set[bytes]:
    """Every CCCD/CMND and phone of the input, as the cache could hold them: E.164, national (0...) and
    the 9-digit subscriber number."""
    out: set[bytes] = set()
    for value in rows["id_number"].dropna():
        out.add(str(value).encode())
    for phone in rows["phone"].dropna():
        digits = str(phone).removeprefix("+84")
        out |= {str(phone).encode(), f"0{digits}".encode(), digits.encode()}
    return {v for v in out if len(v) >= 9}


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)   # files only: one database will do
def test_the_cache_holds_no_id_or_phone_in_clear_and_is_still_reused(migrated_engine, tmp_path) -> None:
    rows = background(1500)
    store_rows(migrated_engine, rows)
    cache = tmp_path / "cache" / "master_list"
    first = ml_run.build(migrated_engine, load_campaign(), as_of=AT, cache_dir=cache, cache_key=KEY)
    files = sorted(cache.glob("records-*.pkl"))
    assert len(files) == 17 and first.submissions_reused == 0
    secrets = _identifiers(rows)
    assert len(secrets) > 1000
    leaked = {s for f in files for s in secrets if s in f.read_bytes()}
    assert not leaked, sorted(leaked)[:5]
    again = ml_run.build(migrated_engine, load_campaign(), as_of=AT, cache_dir=cache, cache_key=KEY)
    assert again.submissions_reused == 17 and again.persons == first.persons


@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_a_changed_or_foreign_cache_file_is_prepared_again_never_unpickled(migrated_engine, tmp_path) -> None:
    store_rows(migrated_engine, background(1500))
    cache = tmp_path / "cache"
    first = ml_run.build(migrated_engine, load_campaign(), as_of=AT, cache_dir=cache, cache_key=KEY)
    victim = sorted(cache.glob("records-*.pkl"))[0]
    blob = bytearray(victim.read_bytes())
    blob[-1] ^= 1                                    # one bit changed on disk
    victim.write_bytes(bytes(blob))
    other = sorted(cache.glob("records-*.pkl"))[1]
    other.write_bytes(b"not a sealed file")   # garbage, e.g. a clear pickle from before sealing
    again = ml_run.build(migrated_engine, load_campaign(), as_of=AT, cache_dir=cache, cache_key=KEY)
    assert again.submissions_reused == 15 and again.persons == first.persons
    rekeyed = ml_run.build(migrated_engine, load_campaign(), as_of=AT, cache_dir=cache, cache_key=bytes(32))
    assert rekeyed.submissions_reused == 0 and rekeyed.persons == first.persons


def test_seal_binds_the_content_to_its_key_and_name() -> None:
    sealed = seal(b"064080001234", KEY, context=b"records-1.pkl")
    assert b"064080001234" not in sealed
    assert unseal(sealed, KEY, context=b"records-1.pkl") == b"064080001234"
    for key, context in ((bytes(32), b"records-1.pkl"), (KEY, b"records-2.pkl")):
        with pytest.raises(SealError):
            unseal(sealed, key, context=context)


def test_the_cache_key_is_made_once_outside_the_cache(tmp_path, monkeypatch) -> None:
    settings = Settings(home=tmp_path / "home")
    with umask(0o022):
        key = cache_key(settings)
    assert len(key) == 32 and cache_key(settings) == key
    assert (settings.home / "keys" / "cache.key").is_file() and loose(settings.home / "keys") == []
    assert not (settings.home / "keys").is_relative_to(settings.cache_dir)
    monkeypatch.setenv("CAMPAIGN_CACHE_KEY", "dG9vIHNob3J0")
    with pytest.raises(ValueError, match="32 bytes"):
        cache_key(Settings(home=tmp_path / "home"))
