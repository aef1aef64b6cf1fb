"""Stock in words (Vietnamese, for district and province users) and JSON: the figures of each finding (the
`{detail}` of its reason in config/reasons.yaml), the report's lines for sections II.3/II.4 and the CLI's text.
Every figure comes from `campaign.stock.rules.reconcile` / `summarize`; nothing is counted here."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from campaign.stock.rules import BALANCE, DOSES, EXPIRED, NEGATIVE, OPENING, PER_VIAL
from campaign.vocabulary import stock_words

# the ledger's headings as a clerk writes them (config/input_kinds.yaml, kind stock_ledger)
WORDS = {"opening": "Tồn đầu", "vials_received": "Nhập", "vials_issued": "Xuất", "vials_used": "Đã sử dụng",
         "vials_damaged": "Hủy/Hư hỏng", "vials_expired": "Hết hạn", "vials_closing": "Tồn cuối"}
PRODUCT_WORD = "Số liều/lọ"


def _n(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "0"
    f = float(v)
    return f"{int(f):,}".replace(",", ".") if f == int(f) else f"{f:.1f}".replace(".", ",")


def _day(v: Any) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    return pd.Timestamp(v).strftime("%d/%m/%Y")


def equation(f: Any) -> str:
    """"Tồn đầu 0 + Nhập 10 − Xuất 2 − Đã sử dụng 0 − Hủy/Hư hỏng 0 − Hết hạn 0 = 8 lọ"."""
    minus = " − ".join(f"{WORDS[c]} {_n(getattr(f, c))}" for c in
                       ("vials_issued", "vials_used", "vials_damaged", "vials_expired"))
    return (f"{WORDS['opening']} {_n(f.opening)} + {WORDS['vials_received']} {_n(f.vials_received)} − {minus}"
            f" = {_n(f.book)} lọ")


def detail(f: Any) -> str:
    """The figures of one finding (a row of `Reconciliation.findings`), for its reason's `{detail}`."""
    where = f"ngày {_day(f.report_date)}, lô {f.lot}" if f.lot else f"ngày {_day(f.report_date)}, cả vắc xin"
    if f.code == BALANCE:
        diff = float(f.vials_closing) - float(f.book)
        return (f"{where}: {equation(f)}, nhưng {WORDS['vials_closing']} ghi {_n(f.vials_closing)} lọ "
                f"(lệch {'+' if diff > 0 else '−'}{_n(abs(diff))} lọ)")
    if f.code == NEGATIVE:
        return f"{where}: {equation(f)} (âm), {WORDS['vials_closing']} ghi {_n(f.vials_closing)} lọ"
    if f.code == OPENING:
        return f"{where}: {WORDS['opening']} ghi {_n(f.opening)} lọ, {WORDS['vials_closing']} ngày trước ghi {_n(f.prev_closing)} lọ"
    if f.code == DOSES:
        return (f"{where}: {WORDS['vials_used']} {_n(f.vials_used)} lọ × {_n(f.dpv)} liều/lọ = {_n(f.capacity)} liều, "
                f"kết quả tiêm ghi nhận {_n(f.doses_given)} liều đã tiêm")
    if f.code == EXPIRED:
        return f"{where}: hạn sử dụng {_day(f.expiry_date)}, trước ngày báo cáo {_day(f.report_date)}"
    if f.code == PER_VIAL:
        return f"{where}: tệp ghi {_n(f.dpv_file)} liều/lọ, vắc xin này {_n(f.dpv)} liều/lọ (đã tính theo {_n(f.dpv)})"
    return where


def finding_issues(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings as intake issues: `row, column, code, severity, detail` (the feedback names row and column)."""
    if findings.empty:
        return pd.DataFrame({"row": pd.Series(dtype="int64"), "column": pd.Series(dtype=object),
                             "code": pd.Series(dtype=object), "severity": pd.Series(dtype=object),
                             "detail": pd.Series(dtype=object)})
    return pd.DataFrame({"row": findings["row"].astype("int64").to_numpy(), "column": findings["column"].to_numpy(),
                         "code": findings["code"].to_numpy(), "severity": "warning",
                         "detail": [detail(f) for f in findings.itertuples(index=False)]})


def _pct(v: Any) -> str:
    return "—" if v is None else f"{v * 100:.1f}%".replace(".", ",")


def summary_lines(block: dict, unit: str) -> list[str]:
    """The lines of one unit (a district or the province) for the report's II.3/II.4 and the board."""
    lines = [f"{unit}: {block['facilities']} cơ sở báo cáo sổ vắc xin; liều cấp dùng {_n(block['doses_supplied'])}, "
             f"liều đã tiêm trong các ngày sổ đã đối chiếu {_n(block['doses_given'])}; tỷ lệ hao hụt {_pct(block['wastage_rate'])} "
             f"(lọ đã mở {_pct(block['open_vial_rate'])}, lọ chưa mở {_pct(block['closed_vial_rate'])})",
             f"{unit}: tồn cuối {_n(block['closing_vials'])} lọ, {_n(block['usable_doses'])} liều còn dùng được; "
             f"{_n(block['stockout_days'])} ngày hết vắc xin"]
    if block["low_stock"]:
        lows = ", ".join(f"{x['facility_code']} ({x['product']}: {_n(x['days_left'])} ngày)" for x in block["low_stock"])
        lines.append(f"{unit}: sắp hết vắc xin theo kế hoạch tiêm: {lows}")
    if block["discrepancies"]:
        lines.append(f"{unit}: {block['discrepancies']} dòng sổ vắc xin không cân đối hoặc cần kiểm tra")
    if block.get("pending_days"):
        lines.append(stock_words("pending_line", unit=unit, n=_n(block["pending_days"])))
    return lines


def finding_lines(findings: pd.DataFrame, limit: int | None = None) -> list[str]:
    """One line per discrepancy for the report's data, each traceable to its submission and row."""
    from campaign.config_reasons import load_reasons

    reasons = load_reasons()
    out = []
    rows = findings if limit is None else findings.head(limit)
    for f in rows.itertuples(index=False):
        head = reasons[f.code].message.split(":")[0].replace("«{column}»", WORDS.get(f.column, PRODUCT_WORD))
        out.append(f"{f.facility_code} ({f.product}) – {head}: {detail(f)} [tệp {f.submission_id}, dòng {f.row}]")
    return out


def to_json(summary: dict, findings: pd.DataFrame, indicators: pd.DataFrame) -> dict:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return None
        if hasattr(v, "isoformat"):
            return v.isoformat()[:10]
        return v.item() if hasattr(v, "item") else v

    return {"summary": summary,
            "facilities": [{k: clean(v) for k, v in r.items()} for r in indicators.to_dict("records")],
            "findings": [{**{k: clean(getattr(f, k)) for k in ("code", "district", "facility_code", "product", "lot",
                                                                "report_date", "submission_id", "row")},
                          "detail": detail(f)} for f in findings.itertuples(index=False)]}


def district_rows(summary: dict, indicators: pd.DataFrame, names: dict[str, str] | None = None) -> list[dict]:
    """One row per district of `summary` (`rules.summarize`) for the daily `stock-<date>` artifact: codes and
    counts only. `days_left` is the district's fewest days of stock left (over its facilities and products)
    at the planned pace, from the same reconciliation's indicators."""
    names = names or {}
    fewest: dict[str, Any] = {}
    if len(indicators) and "days_left" in indicators:
        left = indicators[indicators["days_left"].notna()]
        fewest = {str(k): round(float(v), 1) for k, v in left.groupby("district")["days_left"].min().items()}
    rows = []
    for code, b in sorted(summary["districts"].items()):
        rows.append({"district": code, "name": names.get(code, code), "facilities": b["facilities"],
                     "closing_vials": b["closing_vials"], "usable_doses": b["usable_doses"],
                     "discrepancies": b["discrepancies"], "wastage_pct": _pct(b["wastage_rate"]),
                     "stockout_days": b["stockout_days"], "days_left": fewest.get(code, "—")})
    return rows
