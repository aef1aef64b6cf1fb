"""The campaign days' files, in the clerks' layouts the synth already uses (each district, or facility, keeps
its layout from day to day), each with its planned upload time; and `campaign_days.json`, the days' truth.

Per day, under `<out>/<date>/<district>-<slug>/`:
- `results-<facility>.<ext>`: a facility's own results file (districts where each facility sends its own,
  the late facility, the serious case's facility); `results.<ext>`: the district's compiled file;
- `aefi-serious-<facility>.<ext>`: the serious case, sent right after its facility's results;
  `aefi.<ext>`: the day's mild cases of the district, in the evening;
- `backfill.<ext>` (the second day, about half the districts), `stock_ledger.<ext>` (each session day).
The stock ledger's columns are the `stock_ledger` kind's (decided by issue 20.3, PLAN.md); until that kind
is in config/input_kinds.yaml, `LEDGER_SPEC` below carries exactly its template headers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from campaign.config import CampaignConfig
from campaign.config_kinds import ColumnSpec, KindSpec, load_input_kinds
from campaign.synth.days.draw import DaysDraw
from campaign.synth.defect_plan import commune_traps
from campaign.synth.files.emit import Context, Job, district_slug, emit
from campaign.synth.files.frames import blank_self_ambiguous, commune_cells
from campaign.synth.files.layouts import Layout, other_layout
from campaign.synth.manifest import FileEntry, Manifest
from campaign.synth.schedule import local_time
from campaign.synth.world.admin import prepare_admin


def _col(name: str, type_: str, required: bool, header: str, aliases: list[str], **kw: object) -> ColumnSpec:
    return ColumnSpec(name=name, type=type_, required=required, header=header, aliases=aliases, **kw)


# The daily stock ledger (kind `stock_ledger`, issue 20.3's decision in PLAN.md, 19:58 UTC): counts in vials.
LEDGER_SPEC = KindSpec(name="stock_ledger", section="II.3", mode="event", scope="facility",
                       natural_key=["facility_code", "product", "lot", "report_date"], columns=[
    _col("report_date", "date", True, "Ngày báo cáo", ["Ngày", "Ngày ghi sổ", "Ngày xuất nhập", "Report date"]),
    _col("facility_code", "facility_code", True, "Mã cơ sở tiêm chủng",
         ["Mã cơ sở", "Mã CSTC", "Mã điểm tiêm", "Facility code"]),
    _col("product", "enum", True, "Tên vắc xin", ["Vắc xin", "Loại vắc xin", "Product"], enum="vaccine_product"),
    _col("lot", "text", True, "Số lô", ["Lô vắc xin", "Lô", "Lot"], length=50),
    _col("expiry_date", "date", False, "Hạn sử dụng", ["HSD", "Hạn dùng", "Expiry date"]),
    _col("doses_per_vial", "integer", False, "Số liều/lọ", ["Liều/lọ", "Quy cách", "Doses per vial"], min=1, max=20),
    _col("vials_opening", "integer", False, "Tồn đầu", ["Tồn đầu ngày", "Tồn đầu kỳ", "Số lọ tồn đầu", "Opening"], min=0, max=1_000_000),
    _col("vials_received", "integer", True, "Nhập", ["Nhập trong ngày", "Số lọ nhập", "Số lọ nhận", "Received"], min=0, max=1_000_000),
    _col("vials_issued", "integer", False, "Xuất cho cơ sở khác",
         ["Xuất", "Xuất điều chuyển", "Số lọ xuất", "Cấp cho đơn vị khác", "Issued"], min=0, max=1_000_000),
    _col("vials_used", "integer", True, "Đã sử dụng",
         ["Số lọ đã sử dụng", "Số lọ đã dùng", "Đã dùng", "Số lọ đã mở", "Used"], min=0, max=1_000_000),
    _col("vials_damaged", "integer", False, "Hủy/Hư hỏng", ["Hủy", "Hư hỏng", "Vỡ", "Số lọ hủy", "Damaged"], min=0, max=1_000_000),
    _col("vials_expired", "integer", False, "Hết hạn", ["Số lọ hết hạn", "Hủy do hết hạn", "Expired"], min=0, max=1_000_000),
    _col("vials_closing", "integer", True, "Tồn cuối",
         ["Tồn cuối ngày", "Tồn cuối kỳ", "Số lọ tồn", "Tồn", "Tồn kho", "Closing"], min=0, max=1_000_000),
    _col("note", "text", False, "Ghi chú", ["Note"], length=500),
])
LEDGER_KIND = "stock_ledger"


def ledger_spec() -> KindSpec:
    """The configured `stock_ledger` kind once it is in config/input_kinds.yaml, else LEDGER_SPEC."""
    return load_input_kinds().kinds.get(LEDGER_KIND) or LEDGER_SPEC


@dataclass
class DaysManifest:
    """What was written for the campaign days, and their truth (no personal data: person ids only)."""

    seed: int
    plan_run: int
    days: list[str]
    files: list[FileEntry] = field(default_factory=list)
    behaviour: dict = field(default_factory=dict)
    truth: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, indent=1, default=str)

    @classmethod
    def from_json(cls, text: str) -> DaysManifest:
        d = json.loads(text)
        return cls(seed=d["seed"], plan_run=d["plan_run"], days=d["days"], files=[FileEntry(**f) for f in d["files"]],
                   behaviour=d["behaviour"], truth=d["truth"])


def _full(layout: Layout) -> Layout:
    """The clerks keep every column of the results forms (product, lot and hour are what the days are for)."""
    return dataclasses.replace(layout, drop_optional=0.0)


def write_days(out_dir: Path, draw: DaysDraw, campaign: CampaignConfig, *, seed: int, plan_run: int) -> DaysManifest:
    """Write every file of the days under `out_dir` and `campaign_days.json`; returns the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.Generator(np.random.PCG64([seed, 20_05, 2]))
    districts, communes = prepare_admin(campaign)
    colliding, self_amb, unknown = commune_traps(communes)
    colliding_districts = set(communes.loc[communes.code.isin(colliding), "district_code"])
    manifest = Manifest(seed=seed, people=0, defect_rate=0.0, campaign=campaign.campaign.id)
    ctx = Context(out_dir, campaign, districts, communes, colliding, self_amb, unknown, manifest)
    layouts: dict[tuple[str, str], Layout] = {}

    def layout_of(kind: str, owner: str) -> Layout:   # a clerk's habit: the same layout every day
        if (kind, owner) not in layouts:
            layouts[(kind, owner)] = _full(other_layout(rng, kind, owner[:3] if len(owner) == 3 else owner[2:5],
                                                        colliding_districts))
        return layouts[(kind, owner)]

    short = districts.set_index("code")["short_name"].to_dict()
    statuses: list[str] = []

    def put(kind: str, district: str, owner: str, frame: pd.DataFrame, day: dt.date, name: str,
            planned: dt.datetime, status: str, facility: str | None = None, spec: KindSpec | None = None) -> None:
        layout = layout_of(kind, owner)
        ext = "xlsx" if layout.fmt == "xlsx" else "csv"
        base = out_dir / day.isoformat() / f"{district}-{district_slug(short[district])}"
        emit(ctx, Job(district, kind, frame.reset_index(drop=True), layout, base / f"{name}.{ext}", facility=facility,
                      planned=planned, status=status, spec=spec), rng)
        statuses.append(status)

    vac, res = draw.vaccinations, draw.results
    for k, day in enumerate(draw.days):
        today = res[res["date"] == day]
        back_today = draw.backfill[draw.backfill["_day"] == k] if len(draw.backfill) else draw.backfill
        senders = set(today["district_code"]) | set(back_today.get("district_code", []))
        for d in sorted(senders):
            mine = today[today["district_code"] == d]
            rows = vac[(vac["_day"] == k) & (vac["district_code"] == d)]
            for r in mine[mine["sender"] == "facility"].itertuples():
                put("vaccinations", d, r.facility_code, rows[rows["facility_code"] == r.facility_code], day,
                    f"results-{r.facility_code}", r.sent_at, "event_late" if r.status == "late" else "event",
                    facility=r.facility_code)
            compiled = mine[mine["sender"] == "district"]
            if len(compiled):
                put("vaccinations", d, d, rows[rows["facility_code"].isin(compiled["facility_code"])], day, "results",
                    compiled["sent_at"].iloc[0], "event")
            aefi = draw.aefi[(draw.aefi["_day"] == k) & (draw.aefi["district_code"] == d)]
            for s in aefi[aefi["_upload"] == "serious"].itertuples():
                sent = mine.loc[mine["facility_code"] == s.facility_code, "sent_at"].iloc[0]
                put("aefi", d, s.facility_code, aefi[aefi.index == s.Index], day, f"aefi-serious-{s.facility_code}",
                    sent + dt.timedelta(minutes=int(rng.integers(20, 40))), "event", facility=s.facility_code)
            mild = aefi[aefi["_upload"] == "district"]
            if len(mild):
                put("aefi", d, d, mild, day, "aefi", _evening(day, rng, 20 * 60, 20 * 60 + 45), "event")
            back = back_today[back_today["district_code"] == d] if len(back_today) else back_today
            if len(back):
                put("backfill", d, d, _backfill_frame(ctx, back, layout_of("backfill", d)), day, "backfill",
                    _evening(day, rng, 9 * 60, 16 * 60), "event")
            ledger = draw.ledger[(draw.ledger["date"] == day) & (draw.ledger["district_code"] == d)]
            if len(ledger):
                put(LEDGER_KIND, d, d, _ledger_frame(ledger), day, "stock_ledger",
                    _evening(day, rng, 19 * 60 + 50, 20 * 60 + 40), "event", spec=ledger_spec())
    days = DaysManifest(seed=seed, plan_run=plan_run, days=[d.isoformat() for d in draw.days], files=manifest.files,
                        behaviour=draw.behaviour, truth=truth_of(draw))
    (out_dir / "campaign_days.json").write_text(days.to_json(), encoding="utf-8")
    return days


def _evening(day: dt.date, rng: np.random.Generator, lo: int, hi: int) -> dt.datetime:
    return local_time(day, int(rng.integers(lo, hi)))


def _backfill_frame(ctx: Context, back: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    c = ctx.communes.set_index("code")
    f = back.copy()
    f["_commune_code"] = f["commune_code"]
    f["commune_name"] = f["commune_code"].map(c["name"]).fillna("").astype(object)
    f["_commune_short"] = f["commune_code"].map(c["short_name"]).fillna("").astype(object)
    f = blank_self_ambiguous(ctx, f, "_commune_code", "commune_name")
    f["commune_name"] = commune_cells(f["commune_name"], f["_commune_short"], layout.commune_style)
    return f


def _ledger_frame(ledger: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "report_date": ledger["date"].to_numpy(dtype=object), "facility_code": ledger["facility_code"].to_numpy(dtype=object),
        "product": ledger["product"].to_numpy(dtype=object), "lot": ledger["lot"].to_numpy(dtype=object),
        "expiry_date": ledger["expiry_date"].to_numpy(dtype=object), "doses_per_vial": ledger["doses_per_vial"].to_numpy(),
        "vials_opening": ledger["opening"].to_numpy(), "vials_received": ledger["received"].to_numpy(),
        "vials_issued": ledger["issued"].to_numpy(), "vials_used": ledger["used"].to_numpy(),
        "vials_damaged": np.zeros(len(ledger), dtype=int), "vials_expired": ledger["expired"].to_numpy(),
        "vials_closing": ledger["closing"].to_numpy(), "note": ledger["note"].to_numpy(dtype=object)})


def truth_of(draw: DaysDraw) -> dict:
    """Per day: invited, no-shows, vaccinated, walk-ins, AEFI; the backfill cases; the ledger figures."""
    vac = draw.vaccinations
    out: dict = {"per_day": {}}
    for k, day in enumerate(draw.days):
        v = vac[vac["_day"] == k]
        ns = draw.no_shows[draw.no_shows["date"] == day]
        a = draw.aefi[draw.aefi["_day"] == k]
        out["per_day"][day.isoformat()] = {
            "facilities_held": int(draw.results["date"].eq(day).sum()),
            "invited": int((v["_who"] == "invited").sum() + len(ns)), "no_shows": len(ns),
            "screened": len(v), "vaccinated": int(v["vaccinated"].astype(bool).sum()),
            "walk_ins": int((v["_who"] == "walk_in").sum()), "unlisted": int((v["_who"] == "unlisted").sum()),
            "aefi": len(a), "aefi_serious": int(a["serious"].astype(bool).sum())}
    b = draw.backfill
    out["backfill"] = {} if not len(b) else {case: int(n) for case, n in b["_case"].value_counts().sort_index().items()}
    out["backfill_persons"] = [] if not len(b) else [
        {"person_id": p, "case": c, "dose": int(n), "on": on.isoformat()}
        for p, c, n, on in zip(b["_person_id"], b["_case"], b["dose_number"], b["vaccinated_on"], strict=True)]
    out["no_show_persons"] = sorted(str(p) for p in draw.no_shows["person_id"])
    return out
