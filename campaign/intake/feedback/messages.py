"""The messages shown to districts: one catalogue sentence per issue (`describe_issue`, config/reasons.yaml),
the reasons a whole file was refused (`blocking_text`), one text per data row (`row_messages`) and its
status (`row_statuses`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from campaign.config_kinds import ColumnSpec, InputKinds, KindSpec, load_input_kinds
from campaign.config_reasons import load_reasons
from campaign.io.safety import safe_own
from campaign.io.templates import expected_form
from campaign.vocabulary import kind_label

if TYPE_CHECKING:
    pass



RESULT_HEADER = "Kết quả kiểm tra"
OK_MESSAGE = "OK"


OK, REJECTED, WARNING, REPAIRED = "ok", "rejected", "warning", "repaired"
STATUSES = (OK, REJECTED, WARNING, REPAIRED)


# severity -> rank (higher is worse); section heads of a row's text
_RANK = {"repair": 1, "warning": 2, "row": 3, "blocking": 3}
_FIRST_HEAD = {3: "Bị loại", 2: "Đã nhận, cần kiểm tra", 1: "Đã nhận, đã sửa"}
NEXT_HEAD = {3: "Lỗi", 2: "Cần kiểm tra", 1: "Đã sửa"}
_NOT_RECORDED_HEAD = "Không ghi nhận"   # quarantined without a row error (a repeat of an earlier upload)
STATUS_OF_RANK = {0: OK, 1: REPAIRED, 2: WARNING, 3: REJECTED}


# ---------------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------------


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _num(v: float) -> str:
    return f"{v:g}"


def _bounds(col: ColumnSpec) -> str:
    if col.min is not None and col.max is not None:
        return f"từ {_num(col.min)} đến {_num(col.max)}"
    if col.min is not None:
        return f"từ {_num(col.min)} trở lên"
    if col.max is not None:
        return f"không quá {_num(col.max)}"
    return ""


def _expected(code: str, col: ColumnSpec | None, spec: KindSpec | None, kinds: InputKinds) -> str:
    if col is None:
        return kind_label(spec.name) if spec is not None else ""
    bounds = _bounds(col) if col.type in ("integer", "decimal") else ""
    if code == "value_out_of_range" and bounds:
        return bounds
    form = expected_form(col, kinds)
    return f"{form} {bounds}" if bounds and col.name != "priority_group" else form


def _is_missing(v: object) -> bool:
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


@functools.lru_cache(maxsize=8192)
def _describe(code: str, column: str | None, kind: str, header: str | None, detail: str | None) -> str:
    kinds = load_input_kinds()
    spec = kinds.kinds.get(kind)
    col: ColumnSpec | None = None
    if column is not None and spec is not None:
        col = next((c for c in spec.columns if c.name == column), None)
    if header is None:
        header = col.header if col is not None else column
    reason = load_reasons().reasons.get(code)
    if reason is None:  # a code the catalogue does not know yet: say so rather than fail the feedback
        text = f"«{header}»: lỗi {code}" if header else f"Lỗi {code}"
        return safe_own(text)
    template = reason.message
    params = _Params(column=header or "", detail=detail or "", expected=_expected(code, col, spec, kinds))
    try:
        text = template.format_map(params)
    except (ValueError, IndexError, AttributeError):  # a malformed template: show it as written
        text = template
    text = text.replace("«»", "").replace(" ()", "").strip()
    text = re.sub(r"[\s:;,]+$", "", text)
    if not params["detail"]:
        text = re.sub(r":\s*$", "", text)
    return safe_own(text or code)


def describe_issue(code: str, column: str | None = None, *, kind: str, detail: str | None = None,
                   column_headers: Mapping[str, str] | None = None) -> str:
    """The Vietnamese sentence of one reason code about one column (canonical name, or None for a
    row-level or file-level reason). `column_headers` ({canonical: the district's header}) names the column
    as the district wrote it; without it the template header of the kind is used. A column that is not a
    canonical column of the kind is shown as given."""
    col = None if _is_missing(column) else str(column)
    header = None
    if col is not None and column_headers:
        h = column_headers.get(col)
        header = str(h) if h else None
    return _describe(str(code), col, kind, header, detail)


def blocking_text(blocking: Sequence[tuple[str, str]], kind: str) -> str | None:
    """The refusal of a whole file as one Vietnamese text, from `Checked.blocking` / a ReadError's
    (code, detail) pairs. None when nothing blocks."""
    parts = []
    for code, detail in blocking:
        reason = load_reasons().reasons.get(code)
        if reason is not None and "{detail}" not in reason.message and detail:
            text = detail.strip()   # the detail is the fuller sentence (it names every missing column)
            text = text[:1].upper() + text[1:]
        else:
            text = describe_issue(code, None, kind=kind, detail=detail)
        parts.append(safe_own(text))
    return "; ".join(parts) if parts else None


@dataclass
class _Prepared:
    rows: np.ndarray      # int64, sorted by (row, rank desc, first occurrence), (row, message) distinct
    msg: np.ndarray       # int64 index into texts
    texts: list[str]
    ranks: list[int]


def prepare(issues: pd.DataFrame, n_rows: int, kind: str | None,
             column_headers: Mapping[str, str] | None) -> _Prepared | None:
    if issues is None or len(issues) == 0:
        return None
    rows_s = issues["row"]
    keep = rows_s.notna().to_numpy()
    if not keep.all():
        issues = issues.loc[keep]
        if not len(issues):
            return None
    rows = issues["row"].to_numpy(dtype=np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
        raise ValueError(f"issue rows must lie in [0, {n_rows}); got {rows.min()}..{rows.max()}")
    code_ids, code_u = pd.factorize(issues["code"].astype(object).to_numpy())
    col_vals = (issues["column"].astype(object).to_numpy() if "column" in issues.columns
                else np.full(len(issues), None, dtype=object))
    col_ids, col_u = pd.factorize(col_vals, use_na_sentinel=True)
    if "severity" in issues.columns:
        sev_ids, sev_u = pd.factorize(issues["severity"].astype(object).to_numpy(), use_na_sentinel=True)
    else:
        sev_ids, sev_u = np.full(len(issues), -1, dtype=np.int64), np.array([], dtype=object)
    # a reason's figures (`detail`, e.g. a stock row's balance) make its sentence differ from row to row
    det_vals = (issues["detail"].astype(object).to_numpy() if "detail" in issues.columns
                else np.full(len(issues), None, dtype=object))
    det_ids, det_u = pd.factorize(det_vals, use_na_sentinel=True)
    n_col, n_sev, n_det = len(col_u) + 1, len(sev_u) + 1, len(det_u) + 1
    combo = ((code_ids.astype(np.int64) * n_col + (col_ids + 1)) * n_sev + (sev_ids + 1)) * n_det + (det_ids + 1)
    msg_of_issue, combos = pd.factorize(combo)
    catalogue = load_reasons().reasons
    texts: list[str] = []
    ranks: list[int] = []
    for c0 in np.asarray(combos, dtype=np.int64).tolist():
        c, t = divmod(c0, n_det)
        detail = None if t == 0 else str(det_u[t - 1])
        rest, s = divmod(c, n_sev)
        ci, k = divmod(rest, n_col)
        code = str(code_u[ci])
        column = None if k == 0 else col_u[k - 1]
        severity = sev_u[s - 1] if s > 0 and not _is_missing(sev_u[s - 1]) else (
            catalogue[code].severity if code in catalogue else "row")
        ranks.append(_RANK.get(str(severity), 3))
        texts.append(describe_issue(code, column, kind=kind, column_headers=column_headers, detail=detail)
                     if kind else code)
    # the same sentence twice in a row (two codes, one text) counts once: index by distinct text
    text_ids, text_u = pd.factorize(np.array(texts, dtype=object))
    text_rank = np.zeros(len(text_u), dtype=np.int64)
    np.maximum.at(text_rank, text_ids, np.array(ranks, dtype=np.int64))
    msg = text_ids[msg_of_issue].astype(np.int64)
    rank = text_rank[msg]
    # distinct (row, text), first occurrence kept; then order by row, worst first, first occurrence
    n_text = len(text_u)
    pair = rows * n_text + msg
    _u, first = np.unique(pair, return_index=True)
    first.sort()
    rows, msg, rank = rows[first], msg[first], rank[first]
    order = np.argsort(rows * 4 + (3 - rank), kind="stable")
    return _Prepared(rows[order], msg[order], list(text_u), text_rank.tolist())


def row_messages(issues: pd.DataFrame, n_rows: int, kind: str,
                 column_headers: Mapping[str, str] | None = None, *,
                 quarantined: Sequence[bool] | np.ndarray | pd.Series | None = None) -> list[str]:
    """Per data row (0-based position, as `issues["row"]`): "OK", or the reasons in Vietnamese, most severe
    first, in sections: "Bị loại: A; B. Cần kiểm tra: C. Đã sửa: D" (a row error), "Đã nhận, cần kiểm tra:
    C. Đã sửa: D" (warnings), "Đã nhận, đã sửa: D" (repairs only). A row in `quarantined` without a row
    error (a repeat of an earlier submission) starts "Không ghi nhận: ". Issues without a row (file-level)
    are not row messages."""
    out = [OK_MESSAGE] * n_rows
    prep = prepare(issues, n_rows, kind, column_headers)
    if prep is None:
        return out
    q = None if quarantined is None else np.asarray(quarantined, dtype=bool)
    if q is not None and len(q) != n_rows:
        raise ValueError(f"quarantined has {len(q)} values for {n_rows} rows")
    rows, msg = prep.rows, prep.msg
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    msg_l = msg.tolist()
    texts, ranks = prep.texts, prep.ranks
    cache: dict[tuple, str] = {}

    def build(key: tuple[int, ...], not_recorded: bool) -> str:
        sections: list[str] = []
        current = -1
        items: list[str] = []
        for m in key:
            r = ranks[m]
            if r != current:
                if items:
                    sections.append("; ".join(items))
                items = []
                head = (_NOT_RECORDED_HEAD if not_recorded else _FIRST_HEAD[r]) if current < 0 else NEXT_HEAD[r]
                current = r
                items.append(f"{head}: {texts[m]}")
            else:
                items.append(texts[m])
        sections.append("; ".join(items))
        return ". ".join(sections)

    for s, e, r in zip(starts.tolist(), ends.tolist(), rows[starts].tolist(), strict=True):
        key = tuple(msg_l[s:e])
        nr = bool(q is not None and q[r] and ranks[key[0]] < 3)
        ck = (key, nr)
        text = cache.get(ck)
        if text is None:
            text = cache[ck] = build(key, nr)
        out[r] = text
    return out


def row_statuses(issues: pd.DataFrame, n_rows: int, *,
                 quarantined: Sequence[bool] | np.ndarray | pd.Series | None = None) -> list[str]:
    """Per data row: "rejected" (a row error, or quarantined), "warning", "repaired" or "ok"."""
    worst = np.zeros(n_rows, dtype=np.int64)
    prep = prepare(issues, n_rows, None, None)   # ranks per distinct (code, column, severity), NA severity
    if prep is not None:                          # taken from the catalogue; rows checked
        np.maximum.at(worst, prep.rows, np.asarray(prep.ranks, dtype=np.int64)[prep.msg])
    if quarantined is not None:
        q = np.asarray(quarantined, dtype=bool)
        if len(q) != n_rows:
            raise ValueError(f"quarantined has {len(q)} values for {n_rows} rows")
        worst[q] = 3
    names = np.array([STATUS_OF_RANK[i] for i in range(4)], dtype=object)
    return names[worst].tolist()


# ---------------------------------------------------------------------------------------------------------
