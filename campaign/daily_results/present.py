"""The daily results in words and JSON (Vietnamese for the districts): the command line's text and JSON,
the Prefect artifact's markdown, and the table the reports' sections II.3/II.4 show. Every figure comes
from `rules.daily_figures` (count once); nothing here counts anything but sums of its rows.

    figures_json(fig, now, days)                     -> {"as_of", "days": [{date, province, districts, facilities}]}
    report_table(fig, names, level="province"|"district", unit=None)  -> {title, columns, rows} (II.3/II.4)
    text_lines(doc, names)                           -> lines for the command line
    markdown(doc_day, names)                         -> one day's artifact (no personal data: codes and counts)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from campaign import clock
from campaign.daily_results.rules import COUNTS, DailyFigures, province_totals

# What each figure is called (docs/contracts.md names the JSON keys; these are the words shown)
LABELS = {
    "sessions_planned": "Buổi tiêm theo kế hoạch", "sessions_held": "Buổi đã tiêm (có kết quả)",
    "reports_expected": "Báo cáo phải nộp", "reports_received": "Báo cáo đã nhận",
    "on_time": "Đúng hạn", "late": "Muộn", "missing": "Chưa nộp (quá hạn)", "pending": "Chưa đến hạn",
    "completeness_pct": "Tỷ lệ đầy đủ (%)", "timeliness_pct": "Tỷ lệ đúng hạn (%)",
    "invited": "Được mời", "came": "Đến tiêm (có kết quả)", "vaccinated": "Đã tiêm",
    "vaccinated_invited": "Đã tiêm trong số được mời", "screened": "Đã khám sàng lọc",
    "no_shows": "Không đến (trở lại danh sách chờ)", "awaiting": "Chờ kết quả", "walk_ins": "Tiêm không có lời mời",
    "facilities_unplanned": "Cơ sở có kết quả ngoài kế hoạch",
}
STATE_LABELS = {"on_time": "đúng hạn", "late": "muộn", "missing": "chưa nộp, quá hạn", "pending": "chưa đến hạn",
                "unplanned": "ngoài kế hoạch"}
DEFINITIONS = ("Tỷ lệ đầy đủ = báo cáo đã nhận / báo cáo phải nộp; tỷ lệ đúng hạn = báo cáo nhận trước giờ chốt / "
               "báo cáo phải nộp (như DHIS2). Mỗi cơ sở có buổi tiêm trong kế hoạch đã công bố phải nộp kết quả "
               "của ngày đó trước giờ chốt.")
REPORT_COLUMNS = ["sessions_planned", "sessions_held", "reports_expected", "on_time", "late", "missing",
                  "completeness_pct", "timeliness_pct", "invited", "vaccinated", "no_shows", "walk_ins"]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def figures_json(fig: DailyFigures, now: dt.datetime, days: list[dt.date]) -> dict[str, Any]:
    """The figures per day: the province (sums of the districts), each district, each facility."""
    province = province_totals(fig.districts)
    out = []
    for day in days:
        p = province[province["date"] == day]
        out.append({
            "date": day.isoformat(),
            "province": _records(p.drop(columns="date"))[0] if len(p) else None,
            "districts": _records(fig.districts[fig.districts["date"] == day].drop(columns="date")),
            "facilities": _records(fig.facilities[fig.facilities["date"] == day].drop(columns="date")),
        })
    return {"as_of": now.isoformat(), "definitions": DEFINITIONS, "days": out}


def _pct_text(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def report_table(fig: DailyFigures, names: Mapping[str, str], *, level: str = "province",
                 unit: str | None = None) -> dict[str, Any]:
    """The table of sections II.3/II.4, per day: per district (the province's report) or per facility of
    `unit` (a district's report), with the figures of REPORT_COLUMNS. Rows are lists (a report's Table)."""
    if level == "province":
        frame, key, title = fig.districts, "district", "Kết quả tiêm chủng hằng ngày theo huyện"
    else:
        frame = fig.facilities[fig.facilities["district"] == unit] if unit else fig.facilities
        key, title = "facility_code", "Kết quả tiêm chủng hằng ngày theo cơ sở tiêm chủng"
    rows = []
    for r in frame.sort_values(["date", key]).to_dict("records"):
        rows.append([f"{r['date']:%d/%m/%Y}", names.get(r[key], r[key]),
                     *[_pct_text(r[c]) if c.endswith("_pct") else int(r[c]) for c in REPORT_COLUMNS]])
    return {"title": title, "columns": ["Ngày", "Huyện" if level == "province" else "Cơ sở",
                                        *[LABELS[c] for c in REPORT_COLUMNS]],
            "rows": rows, "note": DEFINITIONS}


def day_line(figures: Mapping[str, Any]) -> str:
    return (f"kế hoạch {figures['sessions_planned']} buổi, có kết quả {figures['sessions_held']}; báo cáo "
            f"{figures['reports_received']}/{figures['reports_expected']} (đúng hạn {figures['on_time']}, muộn "
            f"{figures['late']}, chưa nộp {figures['missing']}, chưa đến hạn {figures['pending']}); đầy đủ "
            f"{_pct_text(figures['completeness_pct'])}%, đúng hạn {_pct_text(figures['timeliness_pct'])}%; "
            f"mời {figures['invited']}, tiêm {figures['vaccinated']} (trong số được mời "
            f"{figures['vaccinated_invited']}), không đến {figures['no_shows']}, chờ kết quả {figures['awaiting']}, "
            f"không có lời mời {figures['walk_ins']}")


def text_lines(doc: Mapping[str, Any], names: Mapping[str, str], *, facilities: bool = False) -> list[str]:
    """The command line's words: per day the province, each district, optionally each facility."""
    lines = [f"Kết quả tiêm chủng hằng ngày, tính đến {clock.local(clock.parse_instant(doc['as_of'])):%H:%M %d/%m/%Y}"]
    for day in doc["days"]:
        when = dt.date.fromisoformat(day["date"])
        if day["province"] is None:
            lines.append(f"{when:%d/%m/%Y}: không có buổi tiêm theo kế hoạch đã công bố, không có kết quả")
            continue
        lines.append(f"{when:%d/%m/%Y} toàn tỉnh: {day_line(day['province'])}")
        for d in day["districts"]:
            lines.append(f"  {names.get(d['district'], d['district'])} ({d['district']}): {day_line(d)}")
        if facilities:
            for f in day["facilities"]:
                state = STATE_LABELS.get(f["state"], f["state"])
                lines.append(f"    {f['facility_code']} ({f['district']}): {state}; mời {f['invited']}, tiêm "
                             f"{f['vaccinated']}, không đến {f['no_shows']}, không có lời mời {f['walk_ins']}")
    lines.append(DEFINITIONS)
    return lines


def markdown(day: Mapping[str, Any], names: Mapping[str, str], as_of: str) -> str:
    """One day's progress artifact: completeness and timeliness per district, the facilities still owing.
    Codes and counts only (no names, IDs or phones of people)."""
    when = dt.date.fromisoformat(day["date"])
    lines = [f"# Kết quả tiêm chủng ngày {when:%d/%m/%Y}",
             f"Tính đến {clock.local(clock.parse_instant(as_of)):%H:%M %d/%m/%Y}. {DEFINITIONS}", ""]
    if day["province"] is None:
        return "\n".join([*lines, "Không có buổi tiêm theo kế hoạch đã công bố."])
    cols = ["reports_expected", "on_time", "late", "missing", "pending", "completeness_pct", "timeliness_pct",
            "sessions_planned", "sessions_held", "invited", "vaccinated", "no_shows", "awaiting", "walk_ins"]
    lines += ["| Huyện | " + " | ".join(LABELS[c] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for d in [*day["districts"], {**day["province"], "district": None}]:
        who = names.get(d["district"], d["district"]) if d["district"] else "**Toàn tỉnh**"
        lines.append(f"| {who} | " + " | ".join(_pct_text(d[c]) if c.endswith("_pct") else str(d[c])
                                                 for c in cols) + " |")
    owing = [f for f in day["facilities"] if f["state"] == "missing"]
    if owing:
        lines += ["", "Cơ sở chưa nộp kết quả (quá hạn): " + ", ".join(
            f"{f['facility_code']} ({names.get(f['district'], f['district'])})" for f in owing)]
    return "\n".join(lines)


def total(frame: pd.DataFrame) -> dict[str, int]:
    """The counts summed (a check the outputs agree)."""
    return {c: int(frame[c].sum()) for c in COUNTS}
