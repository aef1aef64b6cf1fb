"""The store: models, constraints, type round-trips on SQLite and PostgreSQL, bulk insert, engine guards."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import Session

from campaign.config_kinds import KindSpec, load_input_kinds
from campaign.store import bulk
from campaign.store.bulk import BulkInsertError, insert_frame
from campaign.store.db import PrefectDatabaseError, ensure_not_prefect_database, make_engine, session_factory
from campaign.store.models import (
    KIND_MODELS,
    KIND_TABLES,
    PROVENANCE_COLUMNS,
    Base,
    Escalation,
    ImmutableFieldError,
    OutboxMessage,
    QuarantineRow,
    RowIssue,
    StoredFile,
    Submission,
    UTCDateTime,
    build_kind_table,
    column_type,
)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = dt.datetime(2021, 7, 28, 8, 0, tzinfo=HCM)


# ---------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def session(migrated_engine: Engine) -> Iterator[Session]:
    with session_factory(migrated_engine)() as s:
        yield s


def stored_file(session: Session, content: bytes = b"xlsx bytes") -> StoredFile:
    sha = hashlib.sha256(content).hexdigest()
    existing = session.get(StoredFile, sha)
    if existing is not None:
        return existing
    f = StoredFile(
        sha256=sha,
        size_bytes=len(content),
        original_filename="Danh sách đối tượng.xlsx",
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        relative_path=f"{sha[:2]}/{sha}",
    )
    session.add(f)
    session.flush()
    return f


def submission(session: Session, **kw) -> Submission:
    values = dict(
        district_code="633",
        kind="target_list",
        facility_code=None,
        version=1,
        status="accepted",
        is_current=False,
        checksum=stored_file(session).sha256,
        channel="cli",
        submitted_by="tester",
        received_at=NOW,
    )
    values.update(kw)
    sub = Submission(**values)
    session.add(sub)
    session.flush()
    return sub


# ---------------------------------------------------------------------------------------------------------
# Submissions: versions, current snapshots, immutability
# ---------------------------------------------------------------------------------------------------------


def test_submission_defaults_and_mode_from_spec(session: Session) -> None:
    snap = submission(session)
    event = submission(session, kind="vaccinations", facility_code="CS01")
    session.commit()
    assert snap.mode == "snapshot" and event.mode == "event"
    assert snap.rows_total == 0 and snap.reasons == {} and snap.is_current is False
    assert snap.created_at.tzinfo is not None


@pytest.mark.parametrize("facility", [None, "CS01"])
def test_version_unique_per_district_kind_facility(session: Session, facility: str | None) -> None:
    submission(session, facility_code=facility, version=1)
    submission(session, facility_code=facility, version=2)
    submission(session, facility_code=facility, district_code="634", version=1)
    submission(session, facility_code="CS99", version=1)
    session.commit()
    with pytest.raises(IntegrityError):
        submission(session, facility_code=facility, version=2)
    session.rollback()


def test_one_current_snapshot_but_many_current_events(session: Session) -> None:
    submission(session, version=1, is_current=True)
    submission(session, facility_code="CS01", version=1, is_current=True)  # per-facility file: its own slot
    for version in (1, 2, 3):
        submission(session, kind="vaccinations", facility_code="CS01", version=version, is_current=True)
    session.commit()
    with pytest.raises(IntegrityError):
        submission(session, version=2, is_current=True)
    session.rollback()
    with pytest.raises(IntegrityError):
        submission(session, facility_code="CS01", version=2, is_current=True)
    session.rollback()


def test_supersede_then_withdraw(session: Session) -> None:
    v1 = submission(session, version=1, is_current=True)
    session.commit()
    # Replace: the old snapshot stops being current before the new one becomes current.
    v1.is_current = False
    v2 = submission(session, version=2, is_current=True)
    v1.superseded_by_id = v2.id
    session.commit()
    # Withdraw v2: v1 is current again; nothing is deleted.
    v2.status, v2.is_current = "withdrawn", False
    v2.withdrawn_at, v2.withdrawn_by, v2.withdrawn_reason = NOW, "ttyt-chuse", "Gửi nhầm tệp"
    session.flush()
    v1.is_current = True
    session.commit()
    current = session.scalars(select(Submission).where(Submission.is_current)).all()
    assert [s.version for s in current] == [1]
    assert session.scalar(select(func.count()).select_from(Submission)) == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "rejected", "is_current": True},
        {"status": "pending"},
        {"channel": "fax"},
        {"version": 0},
        {"status": "withdrawn"},  # without withdrawn_at
    ],
    ids=["current-rejected", "status", "channel", "version", "withdrawn-no-time"],
)
def test_submission_check_constraints(session: Session, bad: dict) -> None:
    with pytest.raises(IntegrityError):
        submission(session, **bad)
    session.rollback()


def test_submission_unknown_kind_refused(session: Session) -> None:
    with pytest.raises(StatementError, match="unknown input kind"):
        submission(session, kind="no_such_kind")
    session.rollback()


def test_submission_checksum_must_be_stored(session: Session) -> None:
    with pytest.raises(IntegrityError):
        submission(session, checksum="0" * 64)
    session.rollback()


def test_submission_immutable_fields(session: Session) -> None:
    sub = submission(session)
    session.commit()
    sub.feedback_path = "outputs/633/target_list/v1/feedback.xlsx"  # write-once: NULL -> value is fine
    sub.flow_run_id = "3f1c"
    session.commit()
    sub.feedback_path = "elsewhere.xlsx"
    with pytest.raises(ImmutableFieldError, match="feedback_path"):
        session.flush()
    session.rollback()
    sub.district_code = "634"
    with pytest.raises(ImmutableFieldError, match="district_code"):
        session.flush()
    session.rollback()
    session.delete(sub)
    with pytest.raises(ImmutableFieldError, match="never deleted"):
        session.flush()
    session.rollback()


# ---------------------------------------------------------------------------------------------------------
# Escalations and the outbox
# ---------------------------------------------------------------------------------------------------------


def test_escalation_step_sent_once(session: Session) -> None:
    def esc(step: str, party: str = "633") -> Escalation:
        e = Escalation(deadline_id="target_list", party=party, step=step, due_at=NOW, logical_sent_at=NOW)
        session.add(e)
        session.flush()
        return e

    first = esc("reminder")
    esc("escalate")
    esc("reminder", party="doh")
    session.commit()
    with pytest.raises(IntegrityError):
        esc("reminder")
    session.rollback()

    def msg(channel: str, recipient: str) -> None:
        session.add(
            OutboxMessage(
                escalation_id=first.id, channel=channel, recipient=recipient, subject="Nhắc hạn", body="…"
            )
        )
        session.flush()

    msg("email", "ttyt@example.vn")
    msg("webhook", "https://hooks.example.vn/x")
    session.commit()
    out = session.scalars(select(OutboxMessage)).all()
    assert [(m.status, m.attempts, m.payload, m.sent_at) for m in out] == [("pending", 0, {}, None)] * 2
    with pytest.raises(IntegrityError):
        msg("email", "ttyt@example.vn")
    session.rollback()


# ---------------------------------------------------------------------------------------------------------
# Round trips: JSON, instants
# ---------------------------------------------------------------------------------------------------------


def test_json_round_trip(migrated_engine: Engine) -> None:
    reasons = {"phone_invalid": 3, "dob_year_only": 12, "commune_unknown": 1}
    original = {"STT": 7, "Họ và tên": "Nguyễn Thị Ánh", "Ngày sinh": "1970", "Ghi chú": None, "Số ĐT": 9.1e8}
    Session_ = session_factory(migrated_engine)
    with Session_() as s:
        sub = submission(s, reasons=reasons, status="rejected", message="Thiếu cột bắt buộc «Họ và tên»")
        s.add(
            QuarantineRow(
                submission_id=sub.id, sheet="DS", row_number=9, original=original, reasons=["a", "b"]
            )
        )
        s.add(
            RowIssue(
                submission_id=sub.id,
                sheet="DS",
                row_number=9,
                column="phone",
                code="phone_invalid",
                severity="warning",
            )
        )
        s.commit()
        sub_id = sub.id
    with Session_() as s:
        sub = s.get(Submission, sub_id)
        assert sub.reasons == reasons
        assert sub.message == "Thiếu cột bắt buộc «Họ và tên»"
        q = s.scalars(select(QuarantineRow)).one()
        assert q.original == original
        assert list(q.original) == list(original)  # the file's column order is kept
        assert q.reasons == ["a", "b"]
        issue = s.scalars(select(RowIssue)).one()
        assert (issue.row_number, issue.column, issue.severity, issue.detail) == (9, "phone", "warning", None)


def test_instants_round_trip_timezone_aware(migrated_engine: Engine) -> None:
    received = dt.datetime(2021, 7, 29, 0, 30, 15, 123456, tzinfo=HCM)  # 2021-07-28 17:30 UTC
    with session_factory(migrated_engine)() as s:
        sub = submission(s, received_at=received, withdrawn_at=None)
        s.commit()
        sub_id = sub.id
    with session_factory(migrated_engine)() as s:
        back = s.get(Submission, sub_id)
        assert back.received_at == received
        assert back.received_at.utcoffset() == dt.timedelta(0)
        assert back.received_at.replace(tzinfo=None) == dt.datetime(2021, 7, 28, 17, 30, 15, 123456)
        assert back.created_at.tzinfo is not None
        # Instants compare correctly in SQL too (stored as UTC on both databases).
        later = s.scalar(
            select(func.count()).where(
                Submission.received_at > dt.datetime(2021, 7, 28, 17, 0, tzinfo=dt.UTC)
            )
        )
        assert later == 1
    if migrated_engine.dialect.name == "sqlite":
        with migrated_engine.connect() as conn:
            raw = conn.exec_driver_sql("SELECT received_at FROM submissions").scalar_one()
        assert raw == "2021-07-28 17:30:15.123456"


def test_naive_instants_refused(session: Session) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        submission(session, received_at=dt.datetime(2021, 7, 28, 8, 0))
    session.rollback()


def test_utc_datetime_decorator() -> None:
    t = UTCDateTime()
    assert t.process_result_value(dt.datetime(2021, 1, 1), None) == dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    assert t.process_bind_param(dt.datetime(2021, 1, 1, 7, tzinfo=HCM), None) == dt.datetime(
        2021, 1, 1, tzinfo=dt.UTC
    )
    with pytest.raises(TypeError):
        t.process_bind_param(dt.date(2021, 1, 1), None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# Kind tables follow the column specification
# ---------------------------------------------------------------------------------------------------------

EXPECTED = {
    "integer": Integer,
    "decimal": Float,
    "date": Date,
    "datetime": DateTime,
    "boolean": Boolean,
}
STRING_LENGTH = {
    "enum": 32,
    "phone": 16,
    "id_number": 12,
    "insurance_number": 15,
    "facility_code": 32,
    "admin_code": 5,
}


def test_kind_registry_covers_every_kind() -> None:
    kinds = load_input_kinds()
    assert set(KIND_TABLES) == set(KIND_MODELS) == set(kinds.kinds)
    for name, table in KIND_TABLES.items():
        assert table.name == f"{name}_rows"
        assert Base.metadata.tables[table.name] is table
        assert KIND_MODELS[name].__table__ is table


def test_kind_tables_match_spec_in_database(migrated_engine: Engine) -> None:
    insp = inspect(migrated_engine)
    existing = set(insp.get_table_names())
    for name, spec in load_input_kinds().kinds.items():
        table = f"{name}_rows"
        assert table in existing, table
        reflected = {c["name"]: c for c in insp.get_columns(table)}
        assert list(reflected) == [*PROVENANCE_COLUMNS, *(c.name for c in spec.columns)]
        for col in spec.columns:
            db_col = reflected[col.name]
            assert db_col["nullable"], f"{table}.{col.name} must be nullable (the gate decides)"
            db_type = db_col["type"]
            if col.type == "text":
                assert isinstance(db_type, String) and db_type.length == (col.length or 255), col.name
            elif col.type in STRING_LENGTH:
                assert isinstance(db_type, String) and db_type.length == STRING_LENGTH[col.type], col.name
            elif col.type == "datetime":
                assert isinstance(db_type, DateTime), col.name
                if migrated_engine.dialect.name == "postgresql":
                    assert db_type.timezone, col.name
            elif col.type == "decimal":
                assert isinstance(db_type, Float), col.name
            elif col.type == "boolean":
                # PostgreSQL has BOOLEAN; SQLite reflects BOOLEAN as well
                assert isinstance(db_type, Boolean), col.name
            else:
                assert isinstance(db_type, EXPECTED[col.type]), (col.name, db_type)
        indexes = {tuple(ix["column_names"]) for ix in insp.get_indexes(table)}
        # lookups by submission use the index that starts with it; no second index to update per row
        assert indexes == {("submission_id", "row_number")}
        fks = insp.get_foreign_keys(table)
        assert [(fk["constrained_columns"], fk["referred_table"]) for fk in fks] == [
            (["submission_id"], "submissions")
        ]


def test_every_spec_type_is_mapped() -> None:
    spec = _probe_spec()
    table = build_kind_table(MetaData(), spec)
    for col in spec.columns:
        t = table.c[col.name].type
        assert type(t) is type(column_type(col))
        if col.type == "datetime":
            assert isinstance(t, UTCDateTime) and t.impl.timezone
        elif col.type in STRING_LENGTH:
            assert t.length == STRING_LENGTH[col.type]


def test_reserved_column_names_refused() -> None:
    spec = KindSpec.model_validate(
        {
            "name": "bad",
            "section": "II",
            "mode": "snapshot",
            "scope": "district",
            "natural_key": ["row_number"],
            "columns": [{"name": "row_number", "type": "integer", "header": "Số"}],
        }
    )
    with pytest.raises(ValueError, match="reserved"):
        build_kind_table(MetaData(), spec)


def test_kind_model_orm_round_trip(session: Session) -> None:
    sub = submission(session)
    Row = KIND_MODELS["target_list"]
    session.add(
        Row(
            submission_id=sub.id,
            district="633",
            sheet="DS",
            row_number=5,
            full_name="Rơ Châm H'Yung",
            birth_date=dt.date(1961, 2, 3),
            district_code="633",
        )
    )
    session.commit()
    row = session.scalars(select(Row)).one()
    assert (row.full_name, row.birth_date, row.district_code, row.phone) == (
        "Rơ Châm H'Yung",
        dt.date(1961, 2, 3),
        "633",
        None,
    )


# ---------------------------------------------------------------------------------------------------------
# Bulk insert
# ---------------------------------------------------------------------------------------------------------


def _probe_spec() -> KindSpec:
    types = ["text", "integer", "decimal", "date", "datetime", "boolean", "enum", "phone", "id_number",
             "insurance_number", "facility_code", "admin_code"]  # fmt: skip
    columns = [
        {"name": f"c_{t}", "type": t, "header": t, **({"enum": "sex"} if t == "enum" else {})} for t in types
    ]
    columns[0]["length"] = 20
    return KindSpec.model_validate(
        {
            "name": "probe",
            "section": "-",
            "mode": "event",
            "scope": "district",
            "natural_key": [],
            "columns": columns,
        }  # fmt: skip
    )


@pytest.fixture
def probe(migrated_engine: Engine) -> Iterator[tuple[Engine, Table, int]]:
    """A table with one column of every spec type (beside the migrated schema), and a submission."""
    md = MetaData()
    Table("submissions", md, autoload_with=migrated_engine)
    table = build_kind_table(md, _probe_spec())
    table.create(migrated_engine)
    with session_factory(migrated_engine)() as s:
        sub_id = submission(s, kind="backfill", facility_code="CS01").id
        s.commit()
    yield migrated_engine, table, sub_id


def _frame(sub_id: int, n: int = 6) -> pd.DataFrame:
    births = pd.Series(
        pd.to_datetime(
            ["1961-02-03", None, "2003-12-31", "1945-09-02", "1999-01-01", "0999-06-01"], format="ISO8601"
        )
    )
    hcm_times = pd.Series(
        pd.to_datetime(
            [
                "2021-07-28 08:00:00",
                "2021-07-28 23:59:59.5",
                None,
                "2021-12-31 20:15:00",
                "2021-07-29 00:00:01",
                "2021-07-28 08:00:00",
            ],
            format="ISO8601",
        )
    ).dt.tz_localize(HCM)
    frame = pd.DataFrame(
        {
            "submission_id": sub_id,
            "district": "633",
            "sheet": "Danh sách",
            "row_number": np.arange(2, 2 + n),
            "c_text": pd.Series(
                ["Nguyễn Văn A", None, "Ksor H'Blăk", "tab\tand\nnewline\\", "", "🙂 x"], dtype="str"
            ),
            "c_integer": pd.Series([1, None, 16, 0, -5, 2**31 - 1], dtype="Int64"),
            "c_decimal": [13.98, np.nan, 14.0, -1.5, 0.0, 108.123456789],
            "c_date": births.iloc[:n],
            "c_datetime": hcm_times.iloc[:n],
            "c_boolean": pd.Series([True, False, None, True, False, True], dtype="boolean"),
            "c_enum": pd.Series(["male", "female", None, "male", "female", "male"], dtype="str"),
            "c_phone": pd.Series(
                ["+84905123456", None, "+84321234567", "+84905123456", None, "+84905000000"], dtype="str"
            ),
            "c_id_number": pd.Series(
                ["001234567890", "123456789", None, "12345678", None, "064300000001"], dtype="str"
            ),
            "c_insurance_number": pd.Series(
                ["GD4646421234567", None, None, "4646421234", None, None], dtype="str"
            ),
            "c_facility_code": "CS01",
            "c_admin_code": pd.Series(["23901", "64", None, "633", None, "23902"], dtype="str"),
        }
    )
    return frame


def _read(engine: Engine, table: Table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.row_number))]


def _expected(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for rec in frame.to_dict("records"):
        out = {}
        for k, v in rec.items():
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                out[k] = None
            elif k == "c_date":
                out[k] = v.date()
            elif k == "c_datetime":
                out[k] = v.to_pydatetime().astimezone(dt.UTC)
            elif isinstance(v, np.generic):
                out[k] = v.item()
            else:
                out[k] = v
        rows.append(out)
    return rows


def test_bulk_round_trip_every_type(probe: tuple[Engine, Table, int]) -> None:
    engine, table, sub_id = probe
    frame = _frame(sub_id)
    with engine.begin() as conn:
        assert insert_frame(conn, table, frame) == len(frame)
    got = _read(engine, table)
    want = _expected(frame)
    for g, w in zip(got, want, strict=True):
        g.pop("id")
        assert g == w
        if g["c_datetime"] is not None:
            assert g["c_datetime"].utcoffset() == dt.timedelta(0)
        if g["c_date"] is not None:
            assert type(g["c_date"]) is dt.date
    # 08:00 in Ho Chi Minh City is 01:00 UTC
    assert got[0]["c_datetime"] == dt.datetime(2021, 7, 28, 1, 0, tzinfo=dt.UTC)


def test_bulk_stores_what_sqlalchemy_stores(probe: tuple[Engine, Table, int]) -> None:
    """Rows written by insert_frame and by SQLAlchemy are indistinguishable, in storage and in SQL."""
    engine, table, sub_id = probe
    frame = _frame(sub_id)
    with engine.begin() as conn:
        insert_frame(conn, table, frame)
        orm_rows = _expected(frame)
        for r in orm_rows:
            r["row_number"] += 100
        conn.execute(insert(table), orm_rows)
    cols = ", ".join(c.name for c in table.c if c.name not in ("id", "row_number"))
    sql = f"SELECT row_number, {cols} FROM {table.name} ORDER BY row_number"
    if engine.dialect.name == "sqlite":
        cast = ", ".join(
            f"typeof({c.name}) || ':' || quote({c.name})"
            for c in table.c
            if c.name not in ("id", "row_number")
        )
        sql = f"SELECT row_number, {cast} FROM {table.name} ORDER BY row_number"
    with engine.connect() as conn:
        raw = [tuple(r) for r in conn.exec_driver_sql(sql)]
    bulk_rows, orm_rows_raw = raw[: len(frame)], raw[len(frame) :]
    assert [r[1:] for r in bulk_rows] == [r[1:] for r in orm_rows_raw]
    # SQL comparisons on dates and instants see the same values
    with engine.connect() as conn:
        n = conn.scalar(
            select(func.count()).where(
                table.c.c_date >= dt.date(1960, 1, 1),
                table.c.c_datetime < dt.datetime(2021, 7, 28, 18, tzinfo=dt.UTC),
            )
        )
    assert n == 4  # rows 2 and 6 (01:00 and 17:00:01 UTC), each written twice


def test_bulk_object_columns_and_float_integers(probe: tuple[Engine, Table, int]) -> None:
    engine, table, sub_id = probe
    frame = pd.DataFrame(
        {
            "submission_id": [sub_id, sub_id],
            "district": ["633", "633"],
            "row_number": [2.0, 3.0],  # Excel numbers arrive as floats
            "c_date": [dt.date(2021, 7, 28), None],
            "c_datetime": [None, dt.datetime(2021, 7, 28, 8, tzinfo=HCM)],
            "c_text": ["ă", None],
            "c_boolean": [True, None],
            "c_enum": pd.Series(["female", None], dtype="category"),
        }
    )
    with engine.begin() as conn:
        insert_frame(conn, table, frame)
    got = _read(engine, table)
    assert [
        (r["row_number"], r["c_date"], r["c_datetime"], r["c_text"], r["c_boolean"], r["c_enum"]) for r in got
    ] == [
        (2, dt.date(2021, 7, 28), None, "ă", True, "female"),
        (3, None, dt.datetime(2021, 7, 28, 1, tzinfo=dt.UTC), None, None, None),
    ]


def test_bulk_rollback_leaves_nothing(probe: tuple[Engine, Table, int]) -> None:
    engine, table, sub_id = probe
    with engine.connect() as conn:
        trans = conn.begin()
        insert_frame(conn, table, _frame(sub_id))
        assert conn.scalar(select(func.count()).select_from(table)) == 6  # visible inside
        trans.rollback()
    with engine.connect() as conn:
        insert_frame(conn, table, _frame(sub_id))  # no transaction yet: insert_frame begins one
        conn.rollback()
    with pytest.raises(RuntimeError), engine.begin() as conn:
        insert_frame(conn, table, _frame(sub_id))
        raise RuntimeError("the load failed after the rows were written")
    assert _read(engine, table) == []


def test_bulk_in_session_transaction(probe: tuple[Engine, Table, int]) -> None:
    """Intake writes the submission (ORM) and its rows (bulk) in one transaction."""
    engine, table, _ = probe
    with session_factory(engine)() as s:
        sub = submission(s, kind="backfill", facility_code="CS02")
        insert_frame(s.connection(), table, _frame(sub.id))
        s.rollback()
    with session_factory(engine)() as s:
        assert (
            s.scalar(select(func.count()).select_from(Submission).where(Submission.facility_code == "CS02"))
            == 0
        )
    assert _read(engine, table) == []


def test_bulk_many_chunks(probe: tuple[Engine, Table, int], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, table, sub_id = probe
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 7)
    n = 40
    frame = pd.DataFrame(
        {
            "submission_id": sub_id,
            "district": "633",
            "row_number": np.arange(n),
            # all NULL in some chunks, set in others
            "c_text": pd.Series([None] * 20 + [f"r{i}" for i in range(20, n)], dtype="str"),
            "c_date": pd.Series(
                [pd.NaT] * 14 + list(pd.date_range("2021-01-01", periods=n - 14)), dtype="datetime64[us]"
            ),
        }
    )
    with engine.begin() as conn:
        assert insert_frame(conn, table, frame) == n
    got = _read(engine, table)
    assert [r["c_text"] for r in got] == [None] * 20 + [f"r{i}" for i in range(20, n)]
    assert got[14]["c_date"] == dt.date(2021, 1, 1) and got[13]["c_date"] is None
    assert len({r["id"] for r in got}) == n


def test_bulk_binds_only_the_columns_holding_a_value(
    probe: tuple[Engine, Table, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A district's file has a few of a kind's columns: the others are NULL in every row and are neither
    converted nor bound (a 9-column target list bound 27 columns per row, 18 of them empty)."""
    engine, table, sub_id = probe
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 4)
    converted: list[str] = []
    real = bulk._convert

    def spy(series, column, target, conn):
        converted.append(column.name)
        return real(series, column, target, conn)

    monkeypatch.setattr(bulk, "_convert", spy)
    n = 10
    frame = pd.DataFrame({
        "submission_id": sub_id, "district": "633", "row_number": np.arange(n),
        "c_text": pd.Series([f"r{i}" for i in range(n)], dtype="str"),
        "c_phone": pd.Series([None] * n, dtype="str"),                    # a column the file does not have
        "c_date": pd.Series([pd.NaT] * n, dtype="datetime64[us]"),
        "c_integer": pd.Series([None] * 4 + [1] * 6, dtype="Int64"),      # empty in the first chunk only
        "c_boolean": pd.Series([None] * n, dtype="object"),
    })
    with engine.begin() as conn:
        assert insert_frame(conn, table, frame) == n
    assert not {"c_phone", "c_date", "c_boolean"} & set(converted)
    assert converted.count("c_text") == 3                                          # chunks of 4, 4, 2
    got = _read(engine, table)
    assert [r["c_text"] for r in got] == [f"r{i}" for i in range(n)]
    assert all(r["c_phone"] is None and r["c_date"] is None and r["c_boolean"] is None for r in got)
    assert [r["c_integer"] for r in got] == [None] * 4 + [1] * 6


def test_bulk_bad_value_in_a_later_chunk_fails_the_whole_load(
    probe: tuple[Engine, Table, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks are converted ahead in a helper thread: its error must reach the caller, and the rows of
    the chunks already written go with the rollback."""
    engine, table, sub_id = probe
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 5)
    n = 23
    texts = [f"r{i}" for i in range(n)]
    texts[17] = "x" * 10_000   # longer than the column, in the fourth chunk
    frame = pd.DataFrame({"submission_id": sub_id, "district": "633", "row_number": np.arange(n),
                          "c_text": pd.Series(texts, dtype="str")})
    with pytest.raises(BulkInsertError, match="c_text"), engine.begin() as conn:
        insert_frame(conn, table, frame)
    assert _read(engine, table) == []


def test_bulk_empty_frame(probe: tuple[Engine, Table, int]) -> None:
    engine, table, _ = probe
    with engine.begin() as conn:
        assert (
            insert_frame(conn, table, pd.DataFrame(columns=["submission_id", "district", "row_number"])) == 0
        )


@pytest.mark.parametrize(
    ("column", "values", "match"),
    [
        ("no_such_column", [1, 2], "no such columns"),
        ("c_datetime", pd.to_datetime(["2021-07-28 08:00", None]), "naive"),
        ("c_datetime", [dt.datetime(2021, 7, 28, 8), None], "naive"),
        ("c_date", pd.to_datetime(["2021-07-28 08:00", None]), "time of day"),
        ("c_date", ["2021-07-28", None], "expected dates"),
        ("c_integer", [2.5, None], "whole numbers"),
        ("c_integer", ["7", None], "expected"),
        ("c_text", ["x" * 21, None], "exceeds"),
        ("c_phone", [84905123456, None], "expected string"),
        ("c_boolean", ["yes", None], "expected boolean"),
    ],
    ids=[
        "unknown",
        "naive-dt64",
        "naive-obj",
        "date-with-time",
        "date-as-text",
        "fraction",
        "int-as-text",
        "too-long",
        "phone-as-int",
        "bool-as-text",
    ],  # fmt: skip
)
def test_bulk_refuses_what_does_not_fit(
    probe: tuple[Engine, Table, int], column: str, values: list, match: str
) -> None:
    engine, table, sub_id = probe
    frame = pd.DataFrame({"submission_id": [sub_id, sub_id], "district": "633", "row_number": [2, 3]})
    frame[column] = values
    with pytest.raises(BulkInsertError, match=match), engine.begin() as conn:
        insert_frame(conn, table, frame)
    assert _read(engine, table) == []


def test_bulk_refuses_missing_python_defaults(migrated_engine: Engine) -> None:
    frame = pd.DataFrame({"district_code": ["633"], "kind": ["target_list"]})
    with pytest.raises(BulkInsertError, match="Python-side defaults"), migrated_engine.begin() as conn:
        insert_frame(conn, Submission.__table__, frame)


def test_bulk_json_columns(migrated_engine: Engine) -> None:
    with session_factory(migrated_engine)() as s:
        sub_id = submission(s).id
        s.commit()
    original = [{"Họ và tên": "Lê Thị B", "STT": 1}, {"Ngày sinh": "31/02/1990", "Ghi chú": None}]
    frame = pd.DataFrame(
        {
            "submission_id": sub_id,
            "sheet": "DS",
            "row_number": [4, 5],
            "original": original,
            "reasons": [["name_missing"], ["dob_invalid", "phone_missing"]],
        }
    )
    with migrated_engine.begin() as conn:
        insert_frame(conn, QuarantineRow.__table__, frame)
    with session_factory(migrated_engine)() as s:
        rows = s.scalars(select(QuarantineRow).order_by(QuarantineRow.row_number)).all()
        assert [r.original for r in rows] == original
        assert [list(r.original) for r in rows] == [list(o) for o in original]
        assert rows[1].reasons == ["dob_invalid", "phone_missing"]


def test_bulk_target_list_with_all_spec_columns(migrated_engine: Engine) -> None:
    """A target_list frame with every spec column, through the real table."""
    with session_factory(migrated_engine)() as s:
        sub_id = submission(s).id
        s.commit()
    spec = load_input_kinds().kinds["target_list"]
    n = 300
    data: dict[str, object] = {
        "submission_id": sub_id,
        "district": "633",
        "sheet": "Sheet1",
        "row_number": np.arange(2, n + 2),
    }
    for col in spec.columns:
        if col.type == "date":
            data[col.name] = pd.Series(pd.date_range("1950-01-01", periods=n, freq="37D"))
        elif col.type == "integer":
            data[col.name] = np.arange(n) % 16 + 1
        elif col.type == "enum":
            data[col.name] = pd.Series(["male"] * n, dtype="str")
        else:
            width = min(col.length or 255, column_type(col).length or 255)
            data[col.name] = pd.Series([f"{i}"[:width] for i in range(n)], dtype="str")
    frame = pd.DataFrame(data)
    table = KIND_TABLES["target_list"]
    with migrated_engine.begin() as conn:
        assert insert_frame(conn, table, frame) == n
    with migrated_engine.connect() as conn:
        assert (
            conn.scalar(select(func.count()).select_from(table).where(table.c.submission_id == sub_id)) == n
        )
        last = conn.execute(
            select(table.c.birth_date, table.c.priority_group).order_by(table.c.row_number.desc())
        ).first()
    assert last == (frame["birth_date"].iloc[-1].date(), int(frame["priority_group"].iloc[-1]))


# ---------------------------------------------------------------------------------------------------------
# Engines: SQLite settings, the Prefect guard
# ---------------------------------------------------------------------------------------------------------


def test_sqlite_engine_settings(tmp_path) -> None:
    path = tmp_path / "deep" / "er" / "app.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert path.exists()
        # Real transactions: a SAVEPOINT rolls back only its part.
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            nested = conn.begin_nested()
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
            nested.rollback()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT x FROM t").scalars().all() == [1]
    finally:
        engine.dispose()


def test_sqlite_immediate_transactions_wait_for_the_writer(tmp_path) -> None:
    path = tmp_path / "app.sqlite3"
    engine = make_engine(f"sqlite:///{path}", connect_args={"timeout": 0.2})
    writer = engine.execution_options(sqlite_begin="IMMEDIATE")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with writer.connect() as first:
            first.begin()  # holds the write lock from BEGIN on
            with pytest.raises(OperationalError, match="locked"), writer.begin() as second:
                second.exec_driver_sql("SELECT 1")
            first.rollback()
        with writer.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    finally:
        engine.dispose()


def test_default_url_comes_from_settings(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from campaign.settings import get_settings

    monkeypatch.setenv("CAMPAIGN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CAMPAIGN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        engine = make_engine()
        assert engine.url.database == str((tmp_path / "home" / "campaign.sqlite3").resolve())
        engine.dispose()
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("prefect_url", "app_url"),
    [
        ("sqlite+aiosqlite:///{tmp}/prefect.db", "sqlite:///{tmp}/prefect.db"),
        ("sqlite+aiosqlite:///{tmp}/sub/../prefect.db", "sqlite:///{tmp}/prefect.db"),
        (
            "postgresql+asyncpg://prefect:pw@db.local:5432/prefect",
            "postgresql+psycopg://app@db.local:5432/prefect",
        ),
        (
            "postgresql+asyncpg://prefect:pw@127.0.0.1/prefect",
            "postgresql+psycopg://app@localhost/prefect?options=-csearch_path%3Dapp",
        ),
    ],
)
def test_prefect_database_refused(
    tmp_path, monkeypatch: pytest.MonkeyPatch, prefect_url: str, app_url: str
) -> None:
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", prefect_url.format(tmp=tmp_path))
    with pytest.raises(PrefectDatabaseError, match="Prefect's own database"):
        make_engine(app_url.format(tmp=tmp_path))


def test_prefect_home_database_refused(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    with pytest.raises(PrefectDatabaseError):
        ensure_not_prefect_database(f"sqlite:///{tmp_path}/prefect-home/prefect.db")
    monkeypatch.delenv("PREFECT_HOME")
    with pytest.raises(PrefectDatabaseError):
        ensure_not_prefect_database("sqlite:///~/.prefect/prefect.db")


def test_other_databases_allowed(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://p@db.local:5432/prefect")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "var" / "prefect"))
    ensure_not_prefect_database("postgresql+psycopg://app@db.local:5432/campaign")
    ensure_not_prefect_database("postgresql+psycopg://app@other.local:5432/prefect")
    ensure_not_prefect_database(f"sqlite:///{tmp_path}/var/campaign.sqlite3")
    ensure_not_prefect_database("sqlite://")


def test_prefect_profile_database_refused(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        'active = "prod"\n[profiles.prod]\n'
        'PREFECT_API_DATABASE_CONNECTION_URL = "postgresql+asyncpg://p@db.local:5432/orion"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(home))
    with pytest.raises(PrefectDatabaseError):
        ensure_not_prefect_database("postgresql+psycopg://app@db.local:5432/orion")
    ensure_not_prefect_database("postgresql+psycopg://app@db.local:5432/campaign")


def test_in_force_as_of_a_past_moment_sees_what_was_in_force_then(session: Session) -> None:
    """A report as of a past moment counts the submissions in force then (campaign.store.current.in_force
    with `as_of`): v1 until v2 came, v2 after; a file received later is not there yet; a file withdrawn
    later was still there; a rejected file never."""
    from campaign.store.current import current_submission_ids

    h = dt.timedelta(hours=1)
    v1 = submission(session, version=1, is_current=False, received_at=NOW)
    v2 = submission(session, version=2, is_current=True, received_at=NOW + 2 * h)
    v1.superseded_by_id = v2.id
    later = submission(session, kind="vaccinations", facility_code="CS01", version=1, is_current=True,
                       received_at=NOW + 5 * h)
    gone = submission(session, kind="vaccinations", facility_code="CS02", version=1, is_current=False,
                      received_at=NOW + h)
    gone.status, gone.withdrawn_at, gone.withdrawn_by, gone.withdrawn_reason = "withdrawn", NOW + 4 * h, "t", "sai"
    submission(session, kind="vaccinations", facility_code="CS03", version=1, status="rejected",
               received_at=NOW)
    session.commit()
    ids = lambda kind, at: current_submission_ids(session, kind, as_of=at)   # noqa: E731
    assert ids("target_list", NOW - h) == []
    assert ids("target_list", NOW + h) == [v1.id]
    assert ids("target_list", NOW + 3 * h) == [v2.id]
    assert ids("target_list", None) == [v2.id]
    assert ids("vaccinations", NOW + 3 * h) == [gone.id]          # withdrawn only later
    assert ids("vaccinations", NOW + 6 * h) == [later.id]         # withdrawn by then; the later file in
    assert ids("vaccinations", None) == [later.id]
    # v3 came at +6 h and was withdrawn at +8 h (v2 current again): v3 in force between, v2 before and after
    v3 = submission(session, version=3, is_current=False, received_at=NOW + 6 * h)
    v3.status, v3.withdrawn_at, v3.withdrawn_by, v3.withdrawn_reason = "withdrawn", NOW + 8 * h, "t", "sai"
    session.commit()
    assert ids("target_list", NOW + 7 * h) == [v3.id]
    assert ids("target_list", NOW + 9 * h) == [v2.id]
    assert ids("target_list", NOW + 5 * h) == [v2.id]
