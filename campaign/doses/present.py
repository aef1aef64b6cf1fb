"""Doses linked to people, as people read them: the reasons a row is not linked and the conflicts of a
history in Vietnamese (district and DoH users), the JSON of `campaign doses --json`, the text lines, and
the figures per district the reports and the board show (`summary`, one count for every output)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from campaign.master_list.rules import mask_digits

# why a dose row is not linked to a person (rules.REASONS)
REASONS = {
    "no_match": "Không tìm thấy đối tượng nào trong danh sách tổng hợp",
    "weak_match": "Chỉ giống một phần một đối tượng: cần kiểm tra",
    "two_persons": "Giống hai đối tượng trở lên: cần chọn đúng người",
    "id_two_persons": "Số CMT/CCCD thuộc hai đối tượng trở lên",
}
# a history that contradicts itself (rules.CONFLICTS)
CONFLICTS = {
    "dose1_two_products": "Mũi 1 ghi hai loại vắc xin khác nhau",
    "dose_order": "Mũi sau tiêm trước mũi trước (ví dụ mũi 2 trước mũi 1)",
    "same_day": "Hai mũi tiêm cùng một ngày",
    "dose_repeated": "Cùng một mũi ghi ở hai ngày khác nhau",
}
STATUSES = {"linked": "Đã ghép", "unlinked": "Chưa ghép được", "ambiguous": "Cần chọn người"}
METHODS = {"id": "theo số CMT/CCCD", "model": "theo họ tên, ngày sinh, xã, điện thoại"}
SOURCES = {"result": "Kết quả tiêm", "backfill": "Bổ sung (đã tiêm chưa cập nhật)", "target_list": "Danh sách đối tượng"}


def summary(stats: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    """The figures per district (rules.district_summary) with the districts' names: what the report and
    the board show, the same numbers as `campaign doses --json`."""
    names = names or {}
    return {"province": dict(stats.get("province", {})),
            "districts": [{"district": d, "name": names.get(d), **v} for d, v in sorted(stats.get("districts", {}).items())]}


def _clean(v: Any) -> Any:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    if hasattr(v, "item"):
        return v.item()
    return v


def review_rows(links: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows for review (no personal data: the row's place, the dose, the reason, the candidates)."""
    out = []
    for r in links.to_dict("records"):
        r = {k: _clean(v) for k, v in r.items()}
        r["reason_text"] = REASONS.get(r.get("reason") or "", r.get("reason"))
        r["status_text"] = STATUSES.get(r["status"], r["status"])
        r["source_text"] = SOURCES.get(r["source"], r["source"])
        r["candidates"] = r["candidates"].split(",") if r.get("candidates") else []
        out.append(r)
    return out


def conflict_rows(found: pd.DataFrame) -> list[dict[str, Any]]:
    return [{**{k: _clean(v) for k, v in r.items()}, "text": CONFLICTS.get(r["code"], r["code"])}
            for r in found.to_dict("records")]


def history_rows(h: pd.DataFrame) -> list[dict[str, Any]]:
    return [{**{k: _clean(v) for k, v in r.items()}, "source_text": SOURCES.get(r["source"], r["source"])}
            for r in h.to_dict("records")]


def to_json(result: Any, links: pd.DataFrame, found: pd.DataFrame, names: dict[str, str] | None = None) -> dict[str, Any]:
    """`campaign doses --json`: the run's figures, the rows for review and the conflicts."""
    return {"run_id": result.run_id, "as_of": result.as_of.isoformat() if result.as_of else None,
            "master_list_run_id": result.master_run_id, "rows": result.rows, "linked": result.linked,
            "unlinked": result.unlinked, "ambiguous": result.ambiguous, "conflicts": result.conflicts,
            "persons_changed": result.persons_changed, **summary(result.stats, names),
            "review": review_rows(links), "conflict_list": conflict_rows(found),
            "seconds": {k: round(v, 3) for k, v in (result.seconds or {}).items()}}


def text_lines(doc: dict[str, Any]) -> list[str]:
    """The command's text: the figures, then each row for review and each conflict, one line each."""
    lines = [f"Ghép mũi tiêm với đối tượng (lần {doc['run_id']}): {doc['rows']} dòng, {doc['linked']} đã ghép, "
             f"{doc['unlinked']} chưa ghép được, {doc['ambiguous']} cần chọn người, {doc['conflicts']} mâu thuẫn"]
    for d in doc["districts"]:
        lines.append(f"  {d['district']} {d.get('name') or ''}: {d['rows']} dòng, {d['linked']} đã ghép "
                     f"({d['linked_by_id']} theo CMT/CCCD), {d['unlinked']} chưa ghép, {d['ambiguous']} cần chọn, "
                     f"{d['conflicts']} mâu thuẫn")
    if doc["review"]:
        lines.append("Dòng cần xem lại:")
    for r in doc["review"]:
        cands = f" [{', '.join(r['candidates'])}]" if r["candidates"] else ""
        lines.append(f"  {r['district']} nộp {r['submission_id']} dòng {r['row_number']} ({r['source_text']}, mũi "
                     f"{r['dose_number']}, {r['given_on']}): {r['reason_text']}{cands}")
    if doc["conflict_list"]:
        lines.append("Mâu thuẫn trong lịch sử tiêm:")
    for c in doc["conflict_list"]:
        lines.append(f"  {c['district']} {c['person_id']}: {c['text']} ({c['detail']})")
    return lines


def masked_id(value: Any) -> Any:
    return mask_digits(value)
