"""One district file: render its cells, plant its defects, write it in its layout, and record in the
manifest what was written and every defect a reader must find in it."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_col_to_name

from campaign.config import CampaignConfig
from campaign.config_kinds import KindSpec, load_input_kinds
from campaign.domain.text import fold
from campaign.synth import defects as dfx
from campaign.synth.files.cells import empty_cells, render_column
from campaign.synth.files.csv_writer import SAFE_CSV_TYPES, write_csv
from campaign.synth.files.layouts import EXTRA_VALUES, Layout, OutCol, choose_columns
from campaign.synth.files.xlsx_writer import footer_lines, title_lines, write_xlsx
from campaign.synth.manifest import DefectRecord, FileEntry, Manifest
from campaign.synth.world.build import TZ
from campaign.vocabulary import kind_label


def _show(v: Any) -> str:
    """A planted value as the manifest shows it (dates the way a Vietnamese clerk reads them)."""
    if isinstance(v, dt.datetime):
        return v.strftime("%d/%m/%Y %H:%M")
    if isinstance(v, dt.date):
        return v.strftime("%d/%m/%Y")
    return str(v)


@dataclass
class Job:
    """One file to write: a kind's canonical rows for one district (or facility) and its layout."""

    district: str
    kind: str
    frame: pd.DataFrame
    layout: Layout
    path: Path
    facility: str | None = None
    planned: dt.datetime | None = None
    status: str = "on_time"
    version: int = 1
    drop_column: str | None = None  # a required column left out (the rejected first upload)
    cols: list[OutCol] | None = None  # chosen beforehand when the defect plan depends on them
    spec: KindSpec | None = None  # a kind's columns given here (default: the kind of config/input_kinds.yaml)


@dataclass
class Context:
    """What every file of one run shares: where files go, the admin units and their traps, the manifest
    being filled, and where each target-list entry landed (for the duplicate truth)."""

    out_dir: Path
    campaign: CampaignConfig
    districts: pd.DataFrame
    communes: pd.DataFrame
    colliding: set[str]
    self_ambiguous: set[str]
    unknown_communes: list[str]
    manifest: Manifest
    # where target-list entries landed: (file, sheet, entry ids, row numbers, is_copy)
    placements: list[tuple[str, str | None, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)


def district_info(ctx: Context, code: str) -> tuple[str, str, str]:
    """(name, short name, type) of a district."""
    d = ctx.districts.set_index("code").loc[code]
    return str(d["name"]), str(d["short_name"]), str(d["type"])


def district_slug(text: str) -> str:
    """A district's folder name: its short name folded, words joined by hyphens (`chu-se`)."""
    return "-".join(fold(text).replace("'", "").split())


def _other_communes(ctx: Context, district: str) -> list[tuple[str, str, str]]:
    own = {fold(s) for s in ctx.communes.loc[ctx.communes.district_code == district, "short_name"]}
    others = ctx.communes[(ctx.communes.district_code != district)]
    return [(r.code, r.name, r.short_name) for r in others.itertuples() if fold(r.short_name) not in own]


def emit(ctx: Context, job: Job, rng: np.random.Generator) -> FileEntry:
    """Render, damage, write and record one file."""
    spec = job.spec or load_input_kinds()[job.kind]
    layout = job.layout
    frame = job.frame.reset_index(drop=True)
    cols = job.cols if job.cols is not None else choose_columns(spec, layout, rng)
    if job.drop_column:
        cols = [c for c in cols if c.name != job.drop_column]
    n0 = len(frame)
    xlsx = layout.fmt == "xlsx"
    canon = {c.name: c for c in spec.columns}

    # cells per output column, in canonical order of the frame
    rendered: dict[str, np.ndarray] = {}
    for c in cols:
        if c.role == "data" and c.name not in rendered:
            rendered[c.name] = render_column(frame[c.name] if c.name in frame else pd.Series([""] * n0), canon[c.name], layout)
    overridden: dict[str, np.ndarray] = {k: np.zeros(n0, dtype=bool) for k in rendered}
    cell_records: list[tuple[int, str, str | None, str, str]] = []  # (frame row, code, column, value, note)

    # cell defects (target lists: `_defect` column chosen beforehand)
    if "_defect" in frame:
        dctx = dfx.Ctx(fmt=layout.fmt, date_style=layout.effective_date_style,
                       campaign_date=ctx.campaign.campaign.campaign_date, commune_style=layout.commune_style,
                       district=job.district, other_communes=_other_communes(ctx, job.district),
                       unknown_communes=ctx.unknown_communes)
        todo = np.flatnonzero(frame["_defect"].to_numpy(dtype=object) != "")
        need = [c for c in ("full_name", "phone", "id_number", "birth_date", "female", "social_insurance",
                            "commune_name", "commune_short", "commune_code", "_defect") if c in frame]
        records = frame.iloc[todo][need].to_dict("records")
        for i, e in zip(todo, records, strict=True):  # the defect rows only (~2.5%)
            code = e["_defect"]
            if code == "duplicate_row":
                continue
            changes, note = dfx.plant(code, e, rng, dctx)
            main = dfx.CATALOGUE[code].column
            for colname, value in changes.items():
                if colname not in rendered:
                    continue
                rendered[colname][i] = value
                overridden[colname][i] = True
            shown = changes.get(main, "")
            cell_records.append((int(i), code, main, _show(shown), note))

    # event repeats / unknown facility (vaccinations): flagged in the frame
    if "_event_defect" in frame:
        for i in np.flatnonzero(frame["_event_defect"].to_numpy(dtype=object) != ""):
            code = frame.at[i, "_event_defect"]
            main = dfx.CATALOGUE[code].column
            cell_records.append((int(i), code, main, _show(rendered[main][i]) if main in rendered else "", ""))

    # exact copies of rows (duplicate_row): inserted a few rows after their original
    src = np.arange(n0)
    copy_of = np.full(n0, -1)
    if "_defect" in frame:
        dups = np.flatnonzero(frame["_defect"].to_numpy(dtype=object) == "duplicate_row")
        if len(dups):
            offsets = rng.integers(1, 8, len(dups))
            positions = np.minimum(dups + offsets, n0)
            order = np.argsort(np.concatenate([np.arange(n0) * 2.0, positions * 2.0 - 1.0]), kind="stable")
            src = np.concatenate([np.arange(n0), dups])[order]
            copy_of = np.concatenate([np.full(n0, -1), dups])[order]
    n = len(src)

    # assemble output columns
    out_cells: list[np.ndarray] = []
    for c in cols:
        if c.role == "stt":
            out_cells.append(np.arange(1, n + 1).astype(object) if xlsx else np.arange(1, n + 1).astype(str).astype(object))
        elif c.role == "extra":
            if c.fill == "ethnic" and "ethnic" in frame:
                eth = np.array(["Kinh", "Jrai", "Ba Na"], dtype=object)[frame["ethnic"].to_numpy(dtype=int)]
                out_cells.append(eth[src])
            elif c.fill in EXTRA_VALUES and "entry_id" in frame:  # drawn from the entry: no rng consumed
                pool = np.array(EXTRA_VALUES[c.fill], dtype=object)
                out_cells.append(pool[(frame["entry_id"].to_numpy(dtype=np.int64) * 7919 + len(c.header)) % len(pool)][src])
            else:
                out_cells.append(empty_cells(n))
        elif c.role in ("name_family", "name_given"):  # "Nguyễn Văn" | "An"
            parts = frame["full_name"].fillna("").astype(str).str.strip().str.rpartition(" ")
            out_cells.append(parts[0 if c.role == "name_family" else 2].to_numpy(dtype=object)[src])
        elif c.role in ("sex_male", "sex_female"):
            female = frame["sex"].to_numpy(dtype=object) == "female"
            want = female if c.role == "sex_female" else ~female
            birth = render_column(frame["birth_date"], canon["birth_date"], layout) if "birth_date" in frame else \
                np.full(n0, "x", dtype=object)
            out_cells.append(np.where(want, birth, "").astype(object)[src])
        else:
            out_cells.append(rendered[c.name][src])

    # write
    job.path.parent.mkdir(parents=True, exist_ok=True)
    d_name, d_short, d_type = district_info(ctx, job.district)
    if xlsx:
        titles = title_lines(layout, kind_label(job.kind), d_short, d_type)
        when = (job.planned or dt.datetime(2021, 7, 25, tzinfo=TZ)).date()
        written = write_xlsx(job.path, cols, out_cells, n, layout, spec, rng, titles, footer_lines(d_short, when))
    else:
        # columns of digits, dates and numbers need a quoting look only where a defect was planted
        check: list[np.ndarray | None] = []
        for c in cols:
            if c.role == "stt" or (c.role == "data" and canon[c.name].type in SAFE_CSV_TYPES):
                touched = overridden.get(c.name, np.zeros(n0, dtype=bool))[src] if c.role == "data" else np.zeros(n, bool)
                check.append(np.flatnonzero(touched))
            else:
                check.append(None)
        written = write_csv(job.path, cols, out_cells, n, layout, spec, rng, check)

    rel = job.path.relative_to(ctx.out_dir).as_posix()
    row_no = written.data_rows
    read_as = {c.heading: c.name for c in cols if c.role not in ("stt", "extra")}
    ignored = [c.heading for c in cols if c.role == "extra"]
    ignored_data = [c.heading for c, cells_j in zip(cols, out_cells, strict=True)
                    if c.role == "extra" and any(v not in ("", None) for v in cells_j)]
    entry = FileEntry(path=rel, district=job.district, kind=job.kind, facility=job.facility, format=layout.fmt,
                      encoding=layout.encoding if layout.fmt == "csv" else None, layout=layout.name, sheet=written.sheet,
                      header_rows=written.header_rows, first_data_row=int(row_no[0]) if n else None, rows=n,
                      planned_upload_at=job.planned.isoformat() if job.planned else None, status=job.status,
                      version=job.version, sha256=hashlib.sha256(job.path.read_bytes()).hexdigest(),
                      columns=read_as, columns_ignored=ignored, columns_ignored_with_data=ignored_data)
    ctx.manifest.files.append(entry)

    # --- records
    pos_of_frame = np.full(n0, -1, dtype=np.int64)
    orig = copy_of < 0
    pos_of_frame[src[orig]] = np.flatnonzero(orig)
    col_index = {}
    for j, c in enumerate(cols):
        if c.role == "data" and c.name not in col_index:
            col_index[c.name] = j

    def rec(code: str, row_number: int | None, column: str | None, value: str | None = None, note: str = "",
            rows_affected: int | None = None, reason: str | None = None) -> None:
        spec_d = dfx.CATALOGUE[code]
        j = col_index.get(column) if column else None
        ctx.manifest.defects.append(DefectRecord(
            code=code, category=spec_d.category, reason=reason or spec_d.reason, district=job.district, kind=job.kind,
            file=rel,
            sheet=written.sheet, row_number=row_number, column=column, col_number=None if j is None else j + 1,
            cell=(f"{xl_col_to_name(j)}{row_number}" if (xlsx and j is not None and row_number) else None),
            value=value, note=note, rows_affected=rows_affected))

    for i, code, column, value, note in cell_records:
        rec(code, int(row_no[pos_of_frame[i]]), column, value, note)
    for p in np.flatnonzero(~orig):
        original_row = int(row_no[pos_of_frame[copy_of[p]]])
        rec("duplicate_row", int(row_no[p]), None, None, f"copy of row {original_row}")
    # structure
    seen_titles = False
    for code, rown, note in written.structure:
        if code == "title_rows":
            if not seen_titles:
                rows_t = [r for c2, r, _ in written.structure if c2 == "title_rows"]
                rec("title_rows", rows_t[0], None, None, "rows " + ",".join(map(str, rows_t)))
                seen_titles = True
            continue
        rec(code if code in dfx.CATALOGUE else "blank_rows", rown, None, None, note)
    header_row = written.header_rows[0]
    if layout.header_style in ("template", "noted", "national"):
        rec("header_notes", header_row, None, None, layout.header_style)
    if layout.header_style in ("folded", "folded_lower", "upper", "english", "plain", "clerk"):
        rec("header_variants", header_row, None, None, layout.header_style)
    stt = next((c.header for c in cols if c.role == "stt"), None)
    if stt:
        rec("numbering_column", header_row, None, None, stt)
    if layout.instruction_sheet:
        rec("instruction_sheet", None, None, None, "first sheet: Hướng dẫn")
    for c in cols:
        if c.role == "extra":
            rec("extra_column", header_row, None, None, c.header)
    if layout.sex_style == "marks" and any(c.role == "sex_male" for c in cols):
        rec("sex_mark_columns", header_row, "sex", None, "Nam | Nữ")
    if layout.ascii_text:
        rec("text_without_diacritics", None, None, None, "")
    if job.drop_column:
        rec("required_column_missing", None, job.drop_column, None, f"column «{canon[job.drop_column].header}» left out")

    # whole columns as Excel leaves them
    for name in rendered:
        t = canon[name].type
        clean = ~overridden[name]
        if t == "id_number" and layout.numeric_ids:
            k = int((clean & pd.Series(frame[name].astype(str)).str.startswith("0").to_numpy()).sum())
            if k:
                rec("ids_as_numbers", None, name, None, "", k)
        if t == "phone" and layout.numeric_phones:
            k = int((clean & pd.Series(frame[name].astype(str)).str.startswith("0").to_numpy()).sum())
            if k:
                rec("phones_as_numbers", None, name, None, "", k)
        if t in ("date", "datetime") and layout.effective_date_style == "serial":
            k = int((clean & ~pd.isna(frame[name]).to_numpy()).sum())
            if k:
                rec("dates_as_serial", None, name, None, "", k)
        # a text column that shows it writes the day first (a day above 12) gets no ambiguity warning
        if name == "birth_date" and layout.effective_date_style == "text" and not dfx.day_first_shown(rendered[name]):
            b = frame[name].to_numpy().astype("datetime64[D]")
            month = b.astype("datetime64[M]").astype(int) % 12 + 1
            day = (b - b.astype("datetime64[M]")).astype(int) + 1
            k = int((clean & (day <= 12) & (month <= 12) & (day != month)).sum())
            if k:
                rec("dob_as_text", None, name, None, "", k)
    # a target list without the commune-code column: intake fills the code from the name on every row
    # whose commune resolves (not the rows whose commune cell carries a defect of its own)
    if job.kind == "target_list" and "commune_name" in rendered and "commune_code" not in rendered \
            and "commune_code" in frame:
        named = frame["commune_name"].fillna("").astype(str).str.strip().ne("").to_numpy()
        own = ~frame["commune_code"].isin(ctx.self_ambiguous).to_numpy()
        k = int((~overridden["commune_name"] & named & own).sum())
        if k:
            rec("commune_code_absent", None, "commune_code", None, "", k)
    if (layout.sex_style == "marks" and "birth_date" in frame and layout.effective_date_style == "text"
            and not dfx.day_first_shown(render_column(frame["birth_date"], canon["birth_date"], layout))):
        b = frame["birth_date"].to_numpy().astype("datetime64[D]")
        month = b.astype("datetime64[M]").astype(int) % 12 + 1
        day = (b - b.astype("datetime64[M]")).astype(int) + 1
        k = int(((day <= 12) & (month <= 12) & (day != month)).sum())
        if k:
            rec("dob_as_text", None, "birth_date", None, "under Nam / Nữ", k)

    # readiness truths carried by rows
    if "_anomaly" in frame:
        an = frame["_anomaly"].to_numpy(dtype=object)
        notes = frame["_note"].to_numpy(dtype=object) if "_note" in frame else np.full(n0, "", dtype=object)
        column_of = {c: dfx.CATALOGUE[c].column for c in set(an) if c}
        for i in np.flatnonzero(an != ""):
            # the same person twice in one session of one facility repeats the staff natural key
            reason = "duplicate_in_file" if an[i] == "staff_double_booked" and notes[i] == "same_facility" else None
            rec(an[i], int(row_no[pos_of_frame[i]]), column_of[an[i]], None, str(notes[i]), reason=reason)

    # where each target-list entry landed (for the duplicate truth)
    if "entry_id" in frame:
        ids = frame["entry_id"].to_numpy()
        ctx.placements.append((rel, written.sheet, ids[src], row_no, ~orig))
    return entry
