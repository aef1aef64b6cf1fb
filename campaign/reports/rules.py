"""What a report says, pure: from the frames `campaign.reports.store.load_data` read once for the whole
province, each unit's report is a slice of them (`build_report`), so the ~300 facility reports cost one read.
No database and no files here.

The sections follow the annex of directive 1038 (section II: 1 preparation, 2 before vaccination, 3
during vaccination, 4 reporting), then who is responsible for what, what is still missing, and an
appendix of the submissions every figure comes from. A district without an accepted submission of a
kind says so on the page of every section that needs it. Also the life of a version (built, approved,
submitted: each step once, in order, in time) as `refusal`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from campaign import clock
from campaign.aefi import rules as aefi_rules
from campaign.config import CampaignConfig
from campaign.config_directive import Source
from campaign.readiness import rules as readiness_rules
from campaign.readiness import status as readiness_status
from campaign.reports.model import Chart, Report, Section, Table
from campaign.reports.present import enum_labels, recipient_names
from campaign.reports.rules_during import DuringParts, aefi_by_unit
from campaign.reports.rules_during import parts as during_parts
from campaign.store.models.reports import REPORT_LEVELS
from campaign.vocabulary import (
    kind_label,
    party_label,
    report_state_label,
    status_label,
    unplanned_reason,
)

# The levels a report record may hold: the schema's codes (their words are the vocabulary's).
LEVELS = REPORT_LEVELS
KIND_ORDER = ("facilities", "infrastructure", "training", "communication", "staff", "target_list", "vaccine_stock",
              "vaccinations", "aefi", "backfill")
# the kinds each part of the annex is built from (a district without them is named on that part's page)
NEEDS = {"II.1": ("facilities", "infrastructure", "training", "communication"),
         "II.2": ("facilities", "target_list", "staff", "vaccine_stock"),
         # directive 3: "Cập nhật dữ liệu trong quá trình tiêm chủng (kết quả khám sàng lọc, kết quả tiêm và ghi
         # nhận phản ứng bất lợi sau tiêm chủng). Cập nhật đối tượng đã tiêm nhưng chưa được cập nhật."
         "II.3": ("vaccinations", "aefi", "backfill"),
         # directive 4: "Theo dõi thông tin kết quả tổng hợp về tiến độ tiêm chủng, cấp phát vắc xin, phản ứng
         # sau tiêm chủng": progress (results). Not `aefi`: an AEFI file is owed only when there is a reaction
         # (a district without one is not short of data); vaccine distribution: PROVINCE_NEEDS
         "II.4": ("vaccinations",)}
# kinds a part needs by the province's decision, not the directive's words (each with its source, said so in
# the report): the directive asks to follow vaccine distribution (4), not for a file; the province chose the
# facilities' daily stock ledger (issue 20.3)
PROVINCE_NEEDS: dict[str, tuple[tuple[str, Source], ...]] = {
    "II.4": (("stock_ledger", Source(by="province", note=(
        "Công văn yêu cầu theo dõi cấp phát vắc xin (mục 4) nhưng không quy định dữ liệu nào; tỉnh chọn sổ theo "
        "dõi xuất, nhập, tồn vắc xin hằng ngày của từng cơ sở"))),)}
# kinds a part needs only from some districts: `aefi_investigation` (II.3, by: regulation, Decree 104/2016)
# from a district whose serious AEFI case or cluster is overdue for its investigation at the report's moment
NEEDS_WHEN = {"II.3": ("aefi_investigation",)}


class ReportError(ValueError):
    """A report that cannot be built as asked (unknown unit): exit code 2."""


@dataclass
class ReportData:
    """Everything the reports of one moment read, province-wide."""
    as_of: dt.datetime
    campaign: CampaignConfig
    names: dict[str, str]
    assessment: readiness_rules.Assessment
    facilities: pd.DataFrame
    stock: pd.DataFrame
    persons: pd.DataFrame
    plan: dict[str, Any] | None
    plan_sessions: pd.DataFrame
    plan_unplanned: pd.DataFrame      # person_id, district, reason
    plan_invitations: pd.DataFrame   # district, facility_code, person_id, dose (no names: ids only)
    vaccinations: pd.DataFrame
    aefi: pd.DataFrame
    backfill: pd.DataFrame
    submissions: pd.DataFrame
    district_reports: dict[str, str]   # district -> the state of its own latest report (Vietnamese)
    # the campaign days' figures (campaign.reports.during.During: daily results, doses, stock, AEFI), read
    # once per moment by each item's own function; None: sections II.3/II.4 show only the rows above
    during: Any = None

    @property
    def today(self) -> dt.date:
        return clock.local(self.as_of).date()


# ---------------------------------------------------------------------------------------------------------
# One unit's report
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Scope:
    level: str
    unit: str
    name: str
    districts: list[str]
    facility: str | None

    def rows(self, frame: pd.DataFrame, facility_column: str = "facility_code") -> pd.DataFrame:
        if frame.empty:
            return frame
        out = frame[frame["district"].isin(self.districts)]
        if self.facility is not None and facility_column in out:
            out = out[out[facility_column] == self.facility]
        return out


def scope_of(data: ReportData, level: str, unit: str | None) -> _Scope:
    campaign = data.campaign
    if level == "province":
        name = campaign.province.name
        return _Scope(level, campaign.province.code, name if name.lower().startswith("tỉnh") else f"Tỉnh {name}",
                      campaign.district_codes, None)
    if level == "district":
        if unit not in campaign.district_codes:
            raise ReportError(f"không có huyện {unit!r} trong tỉnh")
        # directive section 3: the district's People's Committee and steering committee report ("UBND - BCĐ
        # các huyện ... Tổng hợp công tác chuẩn bị ..., báo cáo về Ban Chỉ đạo của tỉnh"), its health
        # centre drafts ("Chỉ đạo Trung tâm Y tế trực thuộc chủ trì ... tham mưu")
        return _Scope(level, unit, party_label("steering_committee", data.names.get(unit, unit)), [unit], None)
    if level == "facility":
        row = data.facilities[data.facilities["facility_code"] == unit]
        if row.empty:
            raise ReportError(f"không có cơ sở tiêm chủng {unit!r} trong danh sách cơ sở đã được chấp nhận")
        r = row.iloc[0]
        return _Scope(level, unit, f"{r['facility_name']} ({unit})", [r["district"]], unit)
    raise ReportError(f"cấp báo cáo không hợp lệ: {level!r} (facility | district | province)")


def units_of(data: ReportData, level: str) -> list[str]:
    if level == "province":
        return [data.campaign.province.code]
    if level == "district":
        return list(data.campaign.district_codes)
    return sorted(data.facilities["facility_code"].dropna().unique())


def _missing_warnings(data: ReportData, scope: _Scope, part: str) -> list[str]:
    """One line per district of the scope without an accepted submission of a kind this part needs."""
    have = set(zip(data.submissions["district"], data.submissions["kind"], strict=True))
    owing = _owing_investigations(data)
    out = []
    for d in scope.districts:
        # an investigation owed is missing whatever else the district sent: overdue means not in by as_of
        missing = [kind_label(k) for k in NEEDS[part] if (d, k) not in have]
        missing += [kind_label(k) for k in NEEDS_WHEN.get(part, ()) if d in owing]
        if missing:
            out.append(f"{data.names.get(d, d)} ({d}) chưa có dữ liệu được chấp nhận: {', '.join(missing)}. "
                       "Các số liệu dưới đây không tính phần này.")
        for k, source in PROVINCE_NEEDS.get(part, ()):
            if (d, k) not in have:
                out.append(f"{data.names.get(d, d)} ({d}) chưa có dữ liệu được chấp nhận: {kind_label(k)} "
                           f"(theo quyết định của tỉnh: {source.note}). Các số liệu dưới đây không tính phần này.")
    return out


def _owing_investigations(data: ReportData) -> set[str]:
    """The districts owing an AEFI investigation at the report's moment: a serious case or cluster whose
    investigation is overdue then (Decree 104/2016: within 24 hours; one still inside them is not owed yet,
    one received by then is not owed), read at the report's `as_of`: the AEFI assessment of `data.during`,
    made at that moment (`load_during(session, campaign, as_of)`: the AEFI store's readers read only what was
    received by then), not the submissions in force now."""
    a = getattr(data.during, "aefi", None) if data.during is not None else None
    inv = getattr(a, "investigations", None)
    if inv is None or not len(inv):
        return set()
    return set(inv.loc[inv["state"] == aefi_rules.OVERDUE_CASE, "district"])


def _district_label(data: ReportData, d: str) -> str:
    return f"{data.names.get(d, d)} ({d})"


def build_report(data: ReportData, level: str, unit: str | None = None, *, version: int = 1) -> Report:
    scope = scope_of(data, level, unit)
    a = data.assessment
    figures: dict[str, Any] = {}
    fac = scope.rows(a.facilities)
    gaps = scope.rows(a.gaps, "facility")
    days = _days_parts(data, scope)
    figures["during"] = days.figures
    sections = [
        _general(data, scope, fac, figures),
        Section("II.1", "Công tác chuẩn bị trước khi triển khai Nền tảng quản lý tiêm chủng",
                warnings=_missing_warnings(data, scope, "II.1"),
                subsections=[_infrastructure(data, scope, fac, gaps, figures), _training(data, scope, figures),
                             _communication(data, scope, figures)]),
        Section("II.2", "Công tác chuẩn bị trước khi tiêm", warnings=_missing_warnings(data, scope, "II.2"),
                subsections=[_stock(data, scope, figures), _facilities(data, scope, figures),
                             _targets(data, scope, figures), _teams(data, scope, figures),
                             _plan_section(data, scope, figures)]),
        _during(data, scope, figures, days),
        _progress(data, scope, figures, days),
        _roles(data, scope),
        _missing(data, scope, gaps, figures),
    ]
    subs = scope.rows(data.submissions, "facility") if scope.facility is None else \
        data.submissions[data.submissions["district"].isin(scope.districts)
                         & (data.submissions["facility"].isna() | (data.submissions["facility"] == scope.facility))]
    appendix = Table("Các lần nộp dữ liệu được dùng cho báo cáo này",
                     ["Huyện", "Loại dữ liệu", "Mã lần nộp", "Phiên bản", "Thời điểm nhận"],
                     [[_district_label(data, r.district), kind_label(r.kind), int(r.submission_id), int(r.version),
                       f"{clock.local(r.received_at):%d/%m/%Y %H:%M}"] for r in subs.itertuples(index=False)])
    figures["submissions"] = [int(x) for x in subs["submission_id"]]
    local = clock.local(data.as_of)
    district_name = data.names.get(scope.districts[0], scope.districts[0])
    issuer = {"province": f"SỞ Y TẾ TỈNH {data.campaign.province.name.upper().removeprefix('TỈNH ')}",
              "district": f"ỦY BAN NHÂN DÂN {district_name.upper()}\nBAN CHỈ ĐẠO TRIỂN KHAI CHIẾN DỊCH "
                          "TIÊM CHỦNG VẮC XIN PHÒNG COVID-19",
              "facility": scope.name.upper()}[level]
    drafted_by = party_label("health_centre", district_name) if level == "district" else None
    recipients = recipient_names(data.campaign, level, scope.unit, None if level == "province" else scope.districts[0],
                                 data.names)
    return Report(level=level, unit=scope.unit, unit_name=scope.name, issuer=issuer,
                  title="KẾ HOẠCH VÀ BÁO CÁO CÔNG TÁC CHUẨN BỊ TRIỂN KHAI CHIẾN DỊCH TIÊM CHỦNG VẮC XIN "
                        "PHÒNG COVID-19 TRÊN NỀN TẢNG QUẢN LÝ TIÊM CHỦNG",
                  place_date=f"Gia Lai, ngày {local.day:02d} tháng {local.month:02d} năm {local.year}",
                  as_of=data.as_of, version=version, sections=sections, appendix=appendix,
                  signature=({"province": "GIÁM ĐỐC", "district": "TM. BAN CHỈ ĐẠO - TRƯỞNG BAN",
                              "facility": "PHỤ TRÁCH CƠ SỞ"}[level], "(Ký, ghi rõ họ tên, đóng dấu)"),
                  drafted_by=drafted_by, recipients=recipients, figures=figures)


def _general(data: ReportData, scope: _Scope, fac: pd.DataFrame, figures: dict[str, Any]) -> Section:
    persons = scope.rows(data.persons)
    counts = readiness_status.counts_of(data.assessment, facility=scope.facility,
                                 district=scope.districts[0] if scope.level != "province" else None)
    figures.update(facilities_total=counts["facilities_total"], facilities_ready=counts["facilities_ready"],
                   facilities_by_status=counts["facilities_by_status"],
                   people_total=int(len(persons)), people_eligible=int(persons["eligible"].astype(bool).sum())
                   if len(persons) else 0)
    paragraphs = [
        f"Đơn vị: {scope.name}. Số liệu tính đến {clock.local(data.as_of):%H:%M ngày %d/%m/%Y}, tổng hợp tự động "
        "từ các tệp dữ liệu các đơn vị đã nộp và được chấp nhận (xem Phụ lục).",
        f"Số cơ sở tiêm chủng: {figures['facilities_total']}, trong đó sẵn sàng: {figures['facilities_ready']}. "
        f"Số đối tượng trong danh sách tổng hợp: {figures['people_total']}, đủ điều kiện tiêm: "
        f"{figures['people_eligible']}.",
    ]
    tables, charts = [], []
    if scope.level == "province":
        have = set(zip(data.submissions["district"], data.submissions["kind"], strict=True))
        status = data.assessment.districts.set_index("district")["status"] \
            if len(data.assessment.districts) else pd.Series(dtype=object)
        tables.append(Table("Tình trạng dữ liệu và mức sẵn sàng theo huyện",
                            ["Huyện", "Mức sẵn sàng", "Báo cáo của huyện", *[kind_label(k) for k in KIND_ORDER]],
                            [[_district_label(data, d), status_label(status.get(d, "unknown")),
                              data.district_reports.get(d, report_state_label("none", capitalized=False)),
                              *["Có" if (d, k) in have else "Chưa" for k in KIND_ORDER]]
                             for d in scope.districts]))
        sent = report_state_label("sent", capitalized=False)
        figures["district_reports_sent"] = sum(1 for d in scope.districts if sent in data.district_reports.get(d, ""))
        dist = data.assessment.districts
        if len(dist):
            charts.append(Chart("Cơ sở tiêm chủng sẵn sàng theo huyện", "barh",
                                [data.names.get(d, d) for d in dist["district"]],
                                {status_label("ready"): dist["facilities_ready"].astype(float).tolist(),
                                 "Tổng số": dist["facilities_total"].astype(float).tolist()}, "cơ sở"))
    return Section("I", "Thông tin chung", paragraphs=paragraphs, tables=tables, charts=charts)


def _infrastructure(data: ReportData, scope: _Scope, fac: pd.DataFrame, gaps: pd.DataFrame,
                    figures: dict[str, Any]) -> Section:
    infra = gaps[gaps["dimension"] == "infrastructure"] if len(gaps) else gaps
    missing = infra.groupby("item")["missing"].sum().to_dict() if len(infra) else {}
    figures["infrastructure_missing"] = {k: int(v) for k, v in missing.items()}
    # "máy quét QR (nếu có)" (directive II.1): an if_available item is said so, never beside the required
    labels = {"computers": "Máy tính", "qr_scanners": "Máy quét QR (nếu có, không bắt buộc)", "printers": "Máy in",
              "internet_lines": "Đường truyền Internet", "vaccination_tables": "Bàn tiêm"}
    # the counts of section I (readiness_status.counts_of), not counted again here
    rows = [[status_label(s), int(n)] for s, n in figures["facilities_by_status"].items() if n]
    tables = [Table("Mức sẵn sàng của các cơ sở tiêm chủng", ["Mức sẵn sàng", "Số cơ sở"], rows)]
    if missing:
        tables.append(Table("Trang thiết bị còn thiếu", ["Hạng mục", "Số lượng còn thiếu"],
                            [[labels.get(k, k), int(v)] for k, v in sorted(missing.items())]))
    if scope.level != "province" and len(fac):
        tables.append(Table("Hạ tầng từng cơ sở", ["Mã cơ sở", "Tên cơ sở", "Bàn tiêm", "Hạ tầng", "Mức sẵn sàng"],
                            [[r.facility_code, r.facility_name, r.vaccination_tables,
                              status_label(r.infrastructure), status_label(r.status)]
                             for r in fac.itertuples(index=False)]))
    return Section("II.1.a", "Hạ tầng kỹ thuật: máy tính, đường truyền Internet, máy in, máy quét QR",
                   paragraphs=["Nhu cầu tính theo số bàn tiêm của từng cơ sở (cấu hình infrastructure_rules)."],
                   tables=tables)


def _training(data: ReportData, scope: _Scope, figures: dict[str, Any]) -> Section:
    cov = scope.rows(data.assessment.training)
    staff_types, roles = enum_labels("staff_type"), enum_labels("team_role")
    if len(cov):
        g = cov.groupby(["staff_type", "role"], dropna=False)[["people", "trained"]].sum().reset_index()
        rows = [[staff_types.get(r.staff_type, "Chưa rõ"), roles.get(r.role, r.role or "-"), int(r.people),
                 int(r.trained), f"{r.trained / r.people:.0%}" if r.people else "-"] for r in g.itertuples(index=False)]
        figures["trained"], figures["trainees"] = int(g["trained"].sum()), int(g["people"].sum())
    else:
        rows = []
        figures["trained"] = figures["trainees"] = 0
    hold = scope.rows(data.assessment.training_to_hold)
    paragraphs = [f"Đã tập huấn sử dụng Nền tảng: {figures['trained']}/{figures['trainees']} lượt người "
                  "(cán bộ y tế và tình nguyện viên)."]
    if len(hold):
        paragraphs.append(f"Còn {len(hold)} lớp tập huấn theo kế hoạch sau ngày {data.today:%d/%m/%Y}.")
    return Section("II.1.b", "Đào tạo, tập huấn sử dụng Nền tảng", paragraphs=paragraphs,
                   tables=[Table("Tập huấn theo đối tượng và nhiệm vụ",
                                 ["Đối tượng", "Nhiệm vụ", "Số người", "Đã tập huấn", "Tỷ lệ"], rows)])


def _communication(data: ReportData, scope: _Scope, figures: dict[str, Any]) -> Section:
    comm = scope.rows(data.assessment.communication)
    messages, channels = enum_labels("comm_message"), enum_labels("comm_channel")
    done = int(comm["done"].sum()) if len(comm) else 0
    figures["communication_done"], figures["communication_required"] = done, int(len(comm))
    rows = [[_district_label(data, r.district), messages.get(r.message, r.message), channels.get(r.channel, r.channel),
             "Đã thực hiện" if r.done else "Chưa"] for r in comm.itertuples(index=False)]
    return Section("II.1.c", "Tuyên truyền cho người dân đăng ký tiêm và tra cứu chứng nhận tiêm chủng",
                   paragraphs=[f"Đã thực hiện {done}/{len(comm)} nội dung tuyên truyền bắt buộc theo kênh."],
                   tables=[Table("Tuyên truyền theo nội dung và kênh", ["Huyện", "Nội dung", "Kênh", "Tình trạng"],
                                 rows)])


def _stock(data: ReportData, scope: _Scope, figures: dict[str, Any]) -> Section:
    st = scope.rows(data.stock)
    products = enum_labels("vaccine_product")
    rows, charts = [], []
    if len(st):
        st = st.assign(**{c: pd.to_numeric(st[c], errors="coerce").fillna(0) for c in
                          ("doses_per_vial", "vials_received", "vials_issued", "vials_on_hand")})
        g = st.assign(doses=st["vials_on_hand"] * st["doses_per_vial"]).groupby("product").agg(
            lots=("lot", "nunique"), received=("vials_received", "sum"), issued=("vials_issued", "sum"),
            on_hand=("vials_on_hand", "sum"), doses=("doses", "sum"),
            first_expiry=("expiry_date", "min")).reset_index()
        rows = [[products.get(r.product, r.product), int(r.lots), int(r.received), int(r.issued), int(r.on_hand),
                 int(r.doses), f"{pd.Timestamp(r.first_expiry):%d/%m/%Y}" if pd.notna(r.first_expiry) else "-"]
                for r in g.itertuples(index=False)]
        figures["doses_on_hand"] = int(g["doses"].sum())
    else:
        figures["doses_on_hand"] = 0
    return Section("II.2.a", "Quản lý vắc xin", paragraphs=[
        f"Tồn kho: {figures['doses_on_hand']} liều. Số liệu theo báo cáo tồn kho mới nhất của từng cơ sở."],
        tables=[Table("Vắc xin theo loại", ["Vắc xin", "Số lô", "Lọ nhận", "Lọ đã dùng/cấp", "Lọ tồn", "Liều tồn",
                                            "Hạn dùng sớm nhất"], rows)], charts=charts)


def _facilities(data: ReportData, scope: _Scope, figures: dict[str, Any]) -> Section:
    f = scope.rows(data.facilities)
    types = enum_labels("facility_type")
    figures["vaccination_tables"] = int(pd.to_numeric(f["vaccination_tables"], errors="coerce").fillna(0).sum()) \
        if len(f) else 0
    rows = [[r.facility_code, r.facility_name, types.get(r.facility_type, r.facility_type or "-"),
             r.commune_name or "-", r.vaccination_tables, r.person_in_charge or "-"] for r in f.itertuples(index=False)]
    return Section("II.2.b", "Thông tin cơ sở tiêm chủng đã chuẩn hoá", paragraphs=[
        f"{len(f)} cơ sở tiêm chủng, {figures['vaccination_tables']} bàn tiêm."],
        tables=[Table("Cơ sở tiêm chủng", ["Mã cơ sở", "Tên cơ sở", "Loại", "Xã/Phường", "Số bàn tiêm",
                                           "Người phụ trách"], rows)])


def _targets(data: ReportData, scope: _Scope, figures: dict[str, Any]) -> Section:
    p = scope.rows(data.persons)
    groups = data.campaign.priority_groups
    if len(p):
        by_group = p.groupby(pd.to_numeric(p["priority_group"], errors="coerce").fillna(0).astype(int))
        g = by_group.agg(total=("person_id", "size"), eligible=("eligible", "sum")).reset_index()
        rows = [[int(r.priority_group) or "-", groups.get(int(r.priority_group), "Chưa rõ"), int(r.total),
                 int(r.eligible)] for r in g.itertuples(index=False)]
        chart = [Chart("Số đối tượng theo nhóm ưu tiên", "bar", [f"Nhóm {int(x)}" for x in g["priority_group"]],
                       {"Tổng số": g["total"].astype(float).tolist(),
                        "Đủ điều kiện": g["eligible"].astype(float).tolist()}, "người")]
        c = p.groupby("commune_code").agg(total=("person_id", "size"), eligible=("eligible", "sum")).reset_index()
        from campaign.domain.admin_units import get_admin_units

        units = get_admin_units()
        communes = [[(u.name if (u := units.commune(code)) is not None else code), code, int(t), int(e)]
                    for code, t, e in zip(c["commune_code"], c["total"], c["eligible"], strict=True)]
        figures["people_by_priority"] = {int(k): int(v) for k, v in zip(g["priority_group"], g["total"], strict=True)}
    else:
        rows, chart, communes = [], [], []
        figures["people_by_priority"] = {}
    return Section("II.2.c", "Danh sách đối tượng tiêm chủng đã rà soát, chuẩn hoá", paragraphs=[
        "Danh sách tổng hợp đã loại trùng trong và giữa các huyện (mỗi người một mã đối tượng); điều kiện tiêm và "
        "nhóm ưu tiên theo Quyết định 3355/QĐ-BYT."],
        tables=[Table("Đối tượng theo nhóm ưu tiên", ["Nhóm", "Tên nhóm", "Số người", "Đủ điều kiện"], rows),
                Table("Đối tượng theo xã/phường", ["Xã/Phường", "Mã", "Số người", "Đủ điều kiện"], communes)],
        charts=chart)


def _teams(data: ReportData, scope: _Scope, figures: dict[str, Any]) -> Section:
    s = scope.rows(data.assessment.sessions)
    figures["sessions_with_complete_teams"] = int((s["complete_teams"] > 0).sum()) if len(s) else 0
    rows = [[r.facility_code, f"{pd.Timestamp(r.session_date):%d/%m/%Y}", enum_labels("session_part").get(r.session_part),
             int(r.teams), int(r.complete_teams), r.tables] for r in s.itertuples(index=False)]
    return Section("II.2.d", "Cán bộ tham gia chiến dịch và ê kíp tiêm", paragraphs=[
        f"{figures['sessions_with_complete_teams']}/{len(s)} buổi tiêm sắp tới có ít nhất một ê kíp đủ người đã tập "
        "huấn (đón tiếp, khám sàng lọc, tiêm, ghi chép, theo dõi sau tiêm)."],
        tables=[Table("Ê kíp các buổi tiêm sắp tới", ["Cơ sở", "Ngày", "Buổi", "Số ê kíp", "Ê kíp đủ người",
                                                      "Số bàn tiêm"], rows[:300],
                      note=f"và {len(rows) - 300} buổi khác" if len(rows) > 300 else None)])


def _plan_section(data: ReportData, scope: _Scope, figures: dict[str, Any]) -> Section:
    runs = [r for r in (data.plan or {}).get("runs", [])
            if any(data.plan["by_district"].get(d) == r["run_id"] for d in scope.districts)]
    if not runs:
        figures["planned_invitations"] = 0
        return Section("II.2.e", "Kế hoạch tiêm chủng",
                       warnings=["Chưa có kế hoạch buổi tiêm (chạy `campaign plan`)."])
    s = scope.rows(data.plan_sessions)
    un = data.plan_unplanned[data.plan_unplanned["district"].isin(scope.districts)]
    if scope.facility is not None and len(un):   # the people this facility serves
        facility_of = data.persons.set_index("person_id")["facility_code"]
        un = un[un["person_id"].map(facility_of) == scope.facility]
    figures["planned_invitations"] = int(s["invited"].sum()) if len(s) else 0
    per_day = s.groupby("date")["invited"].sum() if len(s) else pd.Series(dtype=float)
    charts = [Chart("Số mũi tiêm dự kiến theo ngày", "bar", [f"{d:%d/%m}" for d in per_day.index],
                    {"Mũi tiêm": per_day.astype(float).tolist()}, "mũi")] if len(per_day) else []
    products = enum_labels("vaccine_product")
    by_product = s.groupby("product")[["invited", "dose2", "vials", "wasted_doses"]].sum().reset_index() \
        if len(s) else pd.DataFrame(columns=["product", "invited", "dose2", "vials", "wasted_doses"])

    def describe(plan: dict[str, Any]) -> str:
        state = (f"đã công bố ngày {clock.local(plan['published_at']):%d/%m/%Y} ({plan['published_by']})"
                 if plan["published_at"] else "bản nháp, chưa công bố")
        end = plan["start"] + dt.timedelta(days=plan["days"] - 1)
        return f"kế hoạch số {plan['run_id']} từ {plan['start']:%d/%m/%Y} đến {end:%d/%m/%Y} ({state})"
    reasons = un["reason"].value_counts() if len(un) else pd.Series(dtype=int)
    return Section("II.2.e", "Kế hoạch tiêm chủng", paragraphs=[
        "Theo " + "; ".join(describe(r) for r in runs) + ": "
        f"{len(s.drop_duplicates(['facility_code', 'date', 'part'])) if len(s) else 0} buổi tiêm, "
        f"{figures['planned_invitations']} lượt mời, {int(s['vials'].sum()) if len(s) else 0} lọ vắc xin cần mở.",
        "Chưa xếp lịch: " + (", ".join(f"{unplanned_reason(k)} {int(v)}" for k, v in reasons.items()) or "0") + "."],
        tables=[Table("Kế hoạch theo vắc xin", ["Vắc xin", "Lượt mời", "Trong đó mũi 2", "Lọ cần mở",
                                               "Liều hủy dự kiến"],
                      [[products.get(r.product, r.product), int(r.invited), int(r.dose2), int(r.vials),
                        int(r.wasted_doses)] for r in by_product.itertuples(index=False)])],
        charts=charts)


def _days_parts(data: ReportData, scope: _Scope) -> DuringParts:
    fac_names = dict(zip(data.facilities["facility_code"], data.facilities["facility_name"], strict=True)) \
        if len(data.facilities) else {}
    return during_parts(data.during, level=scope.level, unit=scope.unit, districts=scope.districts,
                        facility=scope.facility, names=data.names,
                        facility_names={k: f"{v} ({k})" for k, v in fac_names.items()}, as_of=data.as_of)


def _during(data: ReportData, scope: _Scope, figures: dict[str, Any], days: DuringParts) -> Section:
    v = scope.rows(data.vaccinations)
    ae = scope.rows(data.aefi)
    bf = scope.rows(data.backfill)
    screening = enum_labels("screening_result")
    given = v[v["vaccinated"] == "yes"] if len(v) else v
    figures.update(vaccinated=int(len(given)), screened=int(len(v)), aefi=int(len(ae)),
                   aefi_serious=int((ae["serious"] == "yes").sum()) if len(ae) else 0, backfill=int(len(bf)))
    aefi = days.figures.get("aefi")
    if aefi:   # serious per the AEFI rules (any criterion), the figure of `campaign aefi` (count once)
        figures.update(aefi=aefi["cases"], aefi_serious=aefi["serious"])
    rows = [[screening.get(k, k), int(n)] for k, n in v["screening_result"].value_counts().items()] if len(v) else []
    return Section("II.3", "Quá trình tiêm", warnings=_missing_warnings(data, scope, "II.3"), paragraphs=[
        f"Đã khám sàng lọc {figures['screened']} lượt, tiêm {figures['vaccinated']} mũi; phản ứng sau tiêm ghi nhận "
        f"{figures['aefi']} trường hợp, trong đó {figures['aefi_serious']} tai biến nặng; {figures['backfill']} "
        "mũi đã tiêm được cập nhật bổ sung.", *days.ii3_paragraphs],
        tables=[Table("Kết quả khám sàng lọc", ["Kết quả", "Số lượt"], rows), *days.ii3_tables])


def _progress(data: ReportData, scope: _Scope, figures: dict[str, Any], days: DuringParts) -> Section:
    """Section II.4: per district (province) or per facility: planned and vaccinated by priority group,
    vaccine received/issued/on hand, reactions. Also the daily progress artifact's figures."""
    table = progress_table(data, scope)
    v = scope.rows(data.vaccinations)
    given = v[v["vaccinated"] == "yes"] if len(v) else v
    per_day = given.groupby(pd.to_datetime(given["session_date"]).dt.date).size() if len(given) else pd.Series()
    charts = [Chart("Số mũi đã tiêm theo ngày", "line", [f"{d:%d/%m}" for d in per_day.index],
                    {"Mũi tiêm": per_day.astype(float).tolist()}, "mũi")] if len(per_day) > 1 else []
    by_group = priority_progress(data, scope)
    figures["vaccinated_by_priority"] = {int(r[0]) if r[0] != "Chưa rõ" else 0: int(r[3]) for r in by_group.rows
                                         if r[3]}
    figures["planned_by_priority"] = {int(r[0]) if r[0] != "Chưa rõ" else 0: int(r[2]) for r in by_group.rows
                                      if r[2]}
    return Section("II.4", "Công tác báo cáo: tiến độ tiêm chủng, cấp phát vắc xin, phản ứng sau tiêm",
                   warnings=_missing_warnings(data, scope, "II.4"), paragraphs=[
        "Báo cáo tiến độ hằng ngày được tổng hợp tự động từ cùng dữ liệu (artifact `progress-...` trong Prefect).",
        *days.ii4_paragraphs],
        tables=[table, by_group, *days.ii4_tables],
        charts=charts)


def priority_progress(data: ReportData, scope: _Scope) -> Table:
    """Per priority group: people listed, invited (dose 1) by the plan, and doses given."""
    v = scope.rows(data.vaccinations)
    given = v[v["vaccinated"] == "yes"] if len(v) else v
    groups = given.groupby(pd.to_numeric(given["priority_group"], errors="coerce").fillna(0).astype(int)).size() \
        if len(given) else pd.Series(dtype=int)
    listed = scope.rows(data.persons)
    group_of = pd.to_numeric(data.persons.set_index("person_id")["priority_group"], errors="coerce") \
        if len(data.persons) else pd.Series(dtype=float)
    listed = listed.groupby(pd.to_numeric(listed["priority_group"], errors="coerce").fillna(0).astype(int)).size() \
        if len(listed) else pd.Series(dtype=int)
    invited = scope.rows(data.plan_invitations)
    planned = invited[invited["dose"] == 1]["person_id"].map(group_of).fillna(0).astype(int).value_counts() \
        if len(invited) else pd.Series(dtype=int)
    rows = [[int(g) if g else "Chưa rõ", int(listed.get(g, 0)), int(planned.get(g, 0)), int(groups.get(g, 0))]
            for g in sorted(set(groups.index) | set(listed.index) | set(planned.index))]
    return Table("Đối tượng, số người được mời (mũi 1) theo kế hoạch và số mũi đã tiêm theo nhóm ưu tiên",
                 ["Nhóm", "Trong danh sách", "Được mời theo kế hoạch", "Đã tiêm"], rows)


def progress_table(data: ReportData, scope: _Scope) -> Table:
    """Per district (province report) or facility: people planned and vaccinated, vaccine received /
    issued / used / on hand (doses), reactions."""
    key = "district" if scope.level == "province" else "facility_code"
    plan = scope.rows(data.plan_sessions)
    v = scope.rows(data.vaccinations)
    given = v[v["vaccinated"] == "yes"] if len(v) else v
    st = scope.rows(data.stock)
    if len(st):
        st = st.assign(**{c: pd.to_numeric(st[c], errors="coerce").fillna(0) for c in
                          ("doses_per_vial", "vials_received", "vials_issued", "vials_on_hand")})
        for c in ("vials_received", "vials_issued", "vials_on_hand"):
            st[c.replace("vials", "doses")] = st[c] * st["doses_per_vial"]
    # AEFI: the AEFI summary per unit (serious per the AEFI rules, any criterion: count once)
    aefi = aefi_by_unit(data.during, key, scope.districts, scope.facility)
    units = scope.districts if key == "district" else sorted(set(scope.rows(data.facilities)["facility_code"]))

    def count(frame: pd.DataFrame, unit: str, column: str | None = None) -> int:
        if frame.empty:
            return 0
        mine = frame[frame[key] == unit]
        return int(mine[column].sum()) if column else int(len(mine))
    rows = [[_district_label(data, u) if key == "district" else u, count(plan, u, "invited"), count(given, u),
             count(st, u, "doses_received"), count(st, u, "doses_issued"), count(given, u),
             count(st, u, "doses_on_hand"), *aefi.get(u, (0, 0))] for u in units]
    return Table("Tiến độ theo " + ("huyện" if key == "district" else "cơ sở"),
                 ["Đơn vị", "Lượt mời theo kế hoạch", "Đã tiêm", "Liều nhận", "Liều đã cấp/dùng", "Liều đã tiêm",
                  "Liều tồn", "Phản ứng sau tiêm", "Tai biến nặng"], rows)


def _roles(data: ReportData, scope: _Scope) -> Section:
    rows = [[r.unit, r.task] for r in data.campaign.reports.responsibilities]
    # every deadline with what sets it: the directive's line, or the province's own decision (said so)
    directive = data.campaign.campaign.directive
    due = [[d.name, f"{clock.local(d.due_at):%H:%M %d/%m/%Y}",
            ("Công văn " + directive + f", mục {d.source.section}") if d.source.is_directive
            else "Theo quyết định của tỉnh (Công văn không quy định thời hạn)" + (f": {d.source.note}"
                                                                                  if d.source.note else "")]
           for d in data.campaign.deadlines]
    return Section("III", "Phân công trách nhiệm", paragraphs=[
        "Theo Công văn 1038/UBND-KGVX và cấu hình của chiến dịch (reports.responsibilities)."],
        tables=[Table("Đơn vị và nhiệm vụ", ["Đơn vị", "Nhiệm vụ"], rows),
                Table("Thời hạn và căn cứ", ["Nội dung", "Hạn", "Căn cứ"], due)])


def _missing(data: ReportData, scope: _Scope, gaps: pd.DataFrame, figures: dict[str, Any]) -> Section:
    blocking = gaps[gaps["severity"] == "blocking"] if len(gaps) else gaps
    figures["blocking_gaps"] = int(len(blocking))
    rows = [[_district_label(data, r.district), r.facility or "-", r.dimension, r.detail, int(r.missing)]
            for r in blocking.itertuples(index=False)]
    warnings = _missing_warnings(data, scope, "II.1") + _missing_warnings(data, scope, "II.2")
    return Section("IV", "Những việc còn tồn tại", warnings=list(dict.fromkeys(warnings)), paragraphs=[
        f"{len(blocking)} tồn tại chặn (cơ sở hoặc huyện chưa sẵn sàng vì thiếu hạng mục dưới đây)."],
        tables=[Table("Tồn tại cần khắc phục", ["Huyện", "Cơ sở", "Lĩnh vực", "Nội dung", "Thiếu"], rows[:300],
                      note=f"và {len(rows) - 300} tồn tại khác" if len(rows) > 300 else None)])


# ---------------------------------------------------------------------------------------------------------
# The life of a version: built, approved, submitted
# ---------------------------------------------------------------------------------------------------------


def refusal(record: Any, step: str, *, level: str, unit: str, at: dt.datetime,
            version: int | None = None) -> str | None:
    """Why `step` ("approve" or "submit") of a report version (a `ReportRecord`, None when there is none)
    is refused at `at`, or None: each step once, after the one before it (built, then approved), never
    before it in time."""
    approving = step == "approve"
    if record is None:
        return (f"chưa có báo cáo {level} {unit}{f' phiên bản {version}' if version else ''} "
                "để duyệt: chạy `campaign report` trước" if approving
                else f"chưa có báo cáo {level} {unit}: chạy `campaign report` trước")
    before, done = (record.as_of, record.approved_at) if approving else (record.approved_at, record.submitted_at)
    if before is None:
        return (f"phiên bản mới nhất ({record.version}) của báo cáo {level} {unit} chưa được duyệt: "
                "không gửi báo cáo chưa duyệt (`campaign report approve`)")
    if done is not None:
        return (f"phiên bản {record.version} đã được {record.approved_by} duyệt lúc "
                f"{clock.local(done):%H:%M %d/%m/%Y}" if approving else
                f"phiên bản {record.version} đã được gửi lúc "
                f"{clock.local(done):%H:%M %d/%m/%Y} tới {', '.join(record.recipients)}")
    if clock.local(at) < clock.local(before):
        return ("không duyệt một báo cáo trước thời điểm nó được lập" if approving
                else "thời điểm gửi không thể trước thời điểm duyệt")
    return None
