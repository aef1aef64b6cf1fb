"""Great Expectations suites built from the column spec (`config/input_kinds.yaml`) and the reason
catalogue (`config/reasons.yaml`): one suite per input kind, committed as `expectations/<kind>.json`.

The suites validate the *gate frame* that `expectations.gate` builds from the standardizer's output:
the canonical columns a rule needs, in cheap dtypes, personal data masked, plus helper columns:

    _row_status       per row: ok | warning | quarantined | repeat (a row of an event kind already
                      received in an earlier submission). The submission-level rules read it.
    _has__<column>    per required column: NA where a row that is loaded (ok or warning) lacks the
                      value, else a mark: "required value not null on rows that are not quarantined"
                      (quarantined and repeated rows are not counted) is a plain not-null rule on it
    _natural_key      a 64-bit hash of the kind's natural key on loaded rows (NA on quarantined and
                      repeated rows, and where every key value is missing): the uniqueness rule sees
                      no name, ID or phone, only their hash. GX counts every row of a duplicate group
                      (the standardizer's `duplicate_in_file` flags all but the first)
    <phone column>    masked: "+8491#######" (country code and network prefix kept, digits hidden);
                      its E.164 regex runs as `expect_column_values_to_match_regex_by_category`, GX's
                      regex rule evaluated once per distinct shape (see `custom_expectations`)
    <text/ID column>  masked: "•" where a value is present, NA where missing
    <date column>     datetime64[ns] (birth dates too: the range rule needs them; results and Data
                      Docs never hold a value, see `expectations.gate.RESULT_FORMAT`)
    <enum column>     categorical of the enum keys; integers and decimals as float64

Every expectation carries `meta.severity` (blocking | row | warning | repair, always the catalogue's
severity of `meta.reason`) and `meta.reason` (a code of the catalogue), a Vietnamese `description`
(what Data Docs shows as the rule) and Vietnamese `notes` (severity and reason). Two values are
parameters given at run time (`$PARAMETER`), never written into the suite:

    min_accepted_share  1 - campaign.intake.max_rejected_share (the campaign YAML)
    campaign_date       campaign.campaign_date: the latest acceptable birth date

`python -m expectations.build_suites` writes the JSON files; `tests/test_gate.py` fails when they
differ from what the spec gives. This module imports Great Expectations only inside the functions
that need it (the import is slow).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from campaign.config_kinds import ColumnSpec, InputKinds, KindSpec, load_input_kinds
from campaign.config_reasons import ReasonCatalogue, load_reasons
from campaign.vocabulary import kind_label

SUITES_DIR = Path(__file__).resolve().parent

ROW_STATUS = "_row_status"
NATURAL_KEY = "_natural_key"
HAS_PREFIX = "_has__"
ROW_STATUSES = ("ok", "warning", "quarantined", "repeat")
ACCEPTED_STATUSES = ("ok", "warning")

PARAM_MIN_ACCEPTED_SHARE = "min_accepted_share"
PARAM_CAMPAIGN_DATE = "campaign_date"
PARAMETERS = {
    PARAM_MIN_ACCEPTED_SHARE: "1 - campaign.intake.max_rejected_share (tệp cấu hình chiến dịch)",
    PARAM_CAMPAIGN_DATE: "campaign.campaign_date (tệp cấu hình chiến dịch): ngày sinh muộn nhất chấp nhận",
}

MIN_BIRTH_DATE = dt.datetime(1900, 1, 1)
PRESENT_MARK = "•"  # the masked value of a present text / ID cell
COUNTED_MARK = "có"  # the value of a `_has__<column>` helper where the rule is satisfied or not applicable
PHONE_KEEP_DIGITS = 2  # national digits kept after the country code in the masked phone (the network prefix)
EMPTY_FILE_DETAIL = "tệp không có dòng dữ liệu nào (một danh sách rỗng sẽ xoá dữ liệu hiện có)"

# Great Expectations' own severity (shown by GX tools) for ours.
GX_SEVERITY = {"blocking": "critical", "row": "warning", "warning": "info", "repair": "info"}
SEVERITY_VI = {
    "blocking": "chặn cả tệp",
    "row": "loại dòng (đưa vào danh sách cách ly)",
    "warning": "cảnh báo (vẫn nhận dòng)",
    "repair": "đã sửa (vẫn nhận dòng)",
}

# The standardizer's reason for a missing required value, by column (campaign/domain/standardize):
# names -> name_missing, birth_date -> dob_missing, sex -> sex_invalid, priority_group ->
# priority_group_invalid, phones -> phone_missing (a warning: the row is loaded), others value_missing.
NAME_COLUMNS = frozenset({"full_name", "person_in_charge"})
MASKED_TYPES = frozenset({"text", "id_number", "insurance_number", "facility_code", "admin_code"})


def has_column(name: str) -> str:
    return f"{HAS_PREFIX}{name}"


def missing_reason(col: ColumnSpec) -> str:
    if col.name in NAME_COLUMNS:
        return "name_missing"
    if col.name == "birth_date":
        return "dob_missing"
    if col.name == "sex":
        return "sex_invalid"
    if col.name == "priority_group":
        return "priority_group_invalid"
    if col.type == "phone":
        return "phone_missing"
    return "value_missing"


def gate_representation(col: ColumnSpec) -> str:
    """How the gate frame holds a canonical column: `masked_phone`, `masked` (presence only),
    `category` (enum keys), `float` (integers and decimals), `datetime` (dates as datetime64[ns],
    date-times as they are), `boolean`."""
    if col.type == "phone":
        return "masked_phone"
    if col.type in ("date", "datetime"):
        return "datetime"  # birth dates too: the range rule needs them (values never reach results)
    if col.pii or col.type in MASKED_TYPES:
        return "masked"
    if col.type == "enum":
        return "category"
    if col.type in ("integer", "decimal"):
        return "float"
    return "boolean"


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)


def _fmt_number(x: float) -> str:
    v = _number(x)
    return f"{v:,}".replace(",", ".") if isinstance(v, int) else str(v).replace(".", ",")


class _Builder:
    """Collects the expectations of one kind as (GX class name, kwargs, meta, description, notes)."""

    def __init__(self, spec: KindSpec, kinds: InputKinds, reasons: ReasonCatalogue, country_code: str):
        self.spec = spec
        self.kinds = kinds
        self.reasons = reasons
        self.country_code = country_code
        self.items: list[dict[str, Any]] = []

    def add(self, gx_type: str, kwargs: dict[str, Any], *, reason: str, description: str,
            column: ColumnSpec | None = None, detail_vi: str | None = None) -> None:
        if reason not in self.reasons.reasons:
            raise ValueError(f"{self.spec.name}: reason {reason!r} is not in config/reasons.yaml")
        entry = self.reasons[reason]
        severity = entry.severity
        meta: dict[str, Any] = {"severity": severity, "reason": reason}
        if column is not None:
            meta["column"] = column.name
            meta["column_header"] = column.header
        if detail_vi is not None:
            meta["detail_vi"] = detail_vi
        message = entry.message.replace("{column}", column.header if column is not None else "")
        message = message.replace("{detail}", detail_vi or "…").replace("{expected}", "…")
        notes = (
            f"**Mức độ:** {SEVERITY_VI[severity]} (`{severity}`) · **Mã lý do:** `{reason}` · "
            f"**Thông báo cho huyện:** {message}"
        )
        self.items.append({"type": gx_type, "kwargs": kwargs, "meta": meta, "description": description,
                           "notes": notes, "severity": GX_SEVERITY[severity]})

    # --- submission-level rules ---------------------------------------------------------------------
    def table_rules(self) -> None:
        spec = self.spec
        if spec.mode == "snapshot":
            self.add("ExpectTableRowCountToBeBetween", {"min_value": 1},
                     reason="unreadable_file", detail_vi=EMPTY_FILE_DETAIL,
                     description=(f"Tệp «{kind_label(spec.name)}» phải có ít nhất một dòng dữ liệu: đây là loại dữ liệu "
                                  "thay thế toàn bộ, một tệp rỗng sẽ xoá dữ liệu hiện có của huyện."))
        for col in spec.required_columns:
            self.add("ExpectColumnToExist", {"column": col.name}, reason="required_column_missing", column=col,
                     description=f"Tệp phải có cột bắt buộc «{col.header}» (tên chuẩn: {col.name}).")
        share: dict[str, Any] = {"column": ROW_STATUS, "value_set": list(ACCEPTED_STATUSES),
                                 "mostly": {"$PARAMETER": PARAM_MIN_ACCEPTED_SHARE}}
        repeat_note = ""
        if spec.mode == "event":
            # GX's Condition form (string conditions are deprecated since GX 1.9): Column(ROW_STATUS) != "repeat"
            share["row_condition"] = {"type": "comparison", "column": {"name": ROW_STATUS}, "operator": "!=",
                                      "parameter": "repeat"}
            repeat_note = " Dòng đã gửi trong lần trước (lặp lại) không được tính."
        self.add("ExpectColumnValuesToBeInSet", share, reason="too_many_rejected_rows",
                 description=("Tỷ lệ dòng bị loại (cách ly) không được vượt quá ngưỡng cấu hình "
                              "campaign.intake.max_rejected_share (mặc định 50%): tỷ lệ dòng được nhận "
                              "(trạng thái ok hoặc warning) phải từ tham số min_accepted_share trở lên; "
                              "nếu không, cả tệp bị từ chối." + repeat_note))

    # --- per column ---------------------------------------------------------------------------------
    def column_rules(self, col: ColumnSpec) -> None:
        if col.required:
            reason = missing_reason(col)
            if self.reasons.severity(reason) == "row":
                text = (f"Mọi dòng được nhận phải có «{col.header}»: dòng thiếu hoặc sai giá trị này bị loại "
                        "(các dòng đã bị loại hoặc lặp lại không được tính).")
            else:
                text = (f"Dòng được nhận nên có «{col.header}» hợp lệ: dòng thiếu hoặc sai vẫn được nhận "
                        "kèm cảnh báo (các dòng đã bị loại hoặc lặp lại không được tính).")
            self.add("ExpectColumnValuesToNotBeNull", {"column": has_column(col.name)},
                     reason=reason, column=col, description=text)
        if col.type == "enum":
            assert col.enum is not None
            values = self.kinds.enums[col.enum]
            keys = list(values)
            shown = ", ".join(f"{v.label} ({k})" for k, v in values.items())
            self.add("ExpectColumnValuesToBeInSet", {"column": col.name, "value_set": keys},
                     reason="sex_invalid" if col.name == "sex" else "value_invalid", column=col,
                     description=f"«{col.header}» phải thuộc danh mục: {shown}.")
        if col.type in ("integer", "decimal") and (col.min is not None or col.max is not None):
            kwargs: dict[str, Any] = {"column": col.name}
            if col.min is not None:
                kwargs["min_value"] = _number(col.min)
            if col.max is not None:
                kwargs["max_value"] = _number(col.max)
            lo = _fmt_number(col.min) if col.min is not None else "…"
            hi = _fmt_number(col.max) if col.max is not None else "…"
            if col.name == "priority_group":
                self.add("ExpectColumnValuesToBeBetween", kwargs, reason="priority_group_invalid", column=col,
                         description=f"«{col.header}» phải là mã nhóm từ {lo} đến {hi}.")
            else:
                self.add("ExpectColumnValuesToBeBetween", kwargs, reason="value_out_of_range", column=col,
                         description=(f"«{col.header}» thường nằm trong khoảng {lo}–{hi}: giá trị ngoài khoảng "
                                      "vẫn được nhận kèm cảnh báo, xin kiểm tra."))
        if col.name == "birth_date":
            self.add("ExpectColumnValuesToBeBetween",
                     {"column": col.name, "min_value": MIN_BIRTH_DATE,
                      "max_value": {"$PARAMETER": PARAM_CAMPAIGN_DATE}},
                     reason="dob_invalid", column=col,
                     description=(f"«{col.header}» phải từ 01/01/1900 đến ngày tiêm của chiến dịch "
                                  "(tham số campaign_date)."))
        if col.type == "phone":
            cc = self.country_code
            regex = rf"^\+{cc}[1-9][0-9]#{{7,8}}$"
            self.add("ExpectColumnValuesToMatchRegexByCategory", {"column": col.name, "regex": regex},
                     reason="phone_invalid", column=col,
                     description=(f"«{col.header}» phải ở dạng E.164 của Việt Nam: +{cc} rồi 9 hoặc 10 chữ số. "
                                  "Kiểm tra trên số đã che (chỉ giữ mã nước và đầu số nhà mạng, các chữ số "
                                  "còn lại thay bằng #), không lộ số điện thoại."))

    def key_rule(self) -> None:
        spec = self.spec
        headers = ", ".join(f"«{spec.column(k).header}»" for k in spec.natural_key)
        self.add("ExpectColumnValuesToBeUnique", {"column": NATURAL_KEY}, reason="duplicate_in_file",
                 description=(f"Hai dòng được nhận không được trùng khoá tự nhiên ({headers}). Kiểm tra trên mã "
                              "băm của khoá, không lộ dữ liệu cá nhân; số dòng báo là mọi dòng thuộc một nhóm "
                              "trùng (kể cả dòng đầu tiên)."))


def suite_spec(kind: str, *, kinds: InputKinds | None = None, reasons: ReasonCatalogue | None = None,
               country_code: str | None = None) -> dict[str, Any]:
    """The suite of one kind as plain data: {name, meta, notes, expectations: [{type (GX class name),
    kwargs, meta, description, notes, severity}]}. No Great Expectations import."""
    kinds = kinds or load_input_kinds()
    reasons = reasons or load_reasons()
    if country_code is None:
        from campaign.domain.standardize.phones import load_phone_rules

        country_code = load_phone_rules().country_code
    spec = kinds[kind]
    b = _Builder(spec, kinds, reasons, country_code)
    b.table_rules()
    for col in spec.columns:
        b.column_rules(col)
    b.key_rule()
    return {
        "name": kind,
        "meta": {
            "kind": kind,
            "label": kind_label(kind),
            "mode": spec.mode,
            "natural_key": list(spec.natural_key),
            "parameters": dict(PARAMETERS),
            "generated_by": "python -m expectations.build_suites (from config/input_kinds.yaml, config/reasons.yaml)",
        },
        "notes": (f"Bộ kiểm tra cho «{kind_label(kind)}» (mục {spec.section} của chỉ thị). Sinh tự động từ đặc tả cột; "
                  "sửa đặc tả rồi chạy lại `python -m expectations.build_suites`."),
        "expectations": b.items,
    }


@functools.cache
def custom_expectations() -> dict[str, type]:
    """Define (once) and return the project's custom expectations, registered with GX by their class:

    ExpectColumnValuesToMatchRegexByCategory  GX's `expect_column_values_to_match_regex`, evaluated once
        per category on a categorical column (the masked phones: a few dozen shapes for a million rows)
        instead of once per value (~0.5-1 s per million rows with pandas' per-value regex). Other
        dtypes: value by value, as GX does. Same kwargs, same results, same Data Docs rendering.
    """
    import great_expectations.expectations as gxe
    import numpy as np
    import pandas as pd
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial

    class ColumnValuesMatchRegexByCategory(ColumnMapMetricProvider):
        condition_metric_name = "column_values.match_regex_by_category"
        condition_value_keys = ("regex",)

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, regex, **kwargs):  # noqa: ANN001, ANN003, ANN202, N805 - GX's signature
            if isinstance(column.dtype, pd.CategoricalDtype):
                categories = pd.Series(column.cat.categories.astype(str), dtype=object)
                matches = categories.str.contains(regex).to_numpy(dtype=bool)
                codes = column.cat.codes.to_numpy()
                return pd.Series(np.append(matches, True)[codes], index=column.index)  # -1 (null): not judged
            return column.astype(str).str.contains(regex)

    class ExpectColumnValuesToMatchRegexByCategory(gxe.ExpectColumnValuesToMatchRegex):
        """Expect the column entries to match a regular expression (evaluated once per category)."""

        map_metric = "column_values.match_regex_by_category"

    return {"ExpectColumnValuesToMatchRegexByCategory": ExpectColumnValuesToMatchRegexByCategory,
            "_metric": ColumnValuesMatchRegexByCategory}


def build_suite(kind: str, **kw: Any) -> Any:
    """The kind's suite as a Great Expectations `ExpectationSuite` (not attached to any context)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    custom = custom_expectations()
    data = suite_spec(kind, **kw)
    expectations = []
    for item in data["expectations"]:
        cls = custom.get(item["type"]) or getattr(gxe, item["type"])
        expectations.append(cls(**item["kwargs"], meta=item["meta"], description=item["description"],
                                notes=item["notes"], severity=item["severity"]))
    return gx.ExpectationSuite(name=data["name"], expectations=expectations, meta=data["meta"], notes=data["notes"])


def suite_json(kind: str, **kw: Any) -> dict[str, Any]:
    """The JSON document of the kind's suite, as committed in `expectations/<kind>.json` (GX 1.x format)."""
    doc = build_suite(kind, **kw).to_json_dict()
    return json.loads(json.dumps(doc, ensure_ascii=False, default=str))


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def suite_path(kind: str, directory: Path = SUITES_DIR) -> Path:
    return directory / f"{kind}.json"


def load_suite_document(kind: str, directory: Path = SUITES_DIR) -> dict[str, Any]:
    path = suite_path(kind, directory)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no suite for kind {kind!r}; run `python -m expectations.build_suites`") from None


def write_suites(kinds: Iterable[str] | None = None, directory: Path = SUITES_DIR) -> list[Path]:
    """(Re)write `<kind>.json` for every kind (or the given ones); returns the files that changed."""
    changed = []
    for kind in kinds or load_input_kinds().names:
        text = dumps(suite_json(kind))
        path = suite_path(kind, directory)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def referenced_columns(doc: dict[str, Any]) -> list[str]:
    """Every column a suite document names (column, column_list, column_A/B), in first-seen order."""
    seen: dict[str, None] = {}
    for e in doc.get("expectations", []):
        kw = e.get("kwargs", {})
        for key in ("column", "column_A", "column_B"):
            if isinstance(kw.get(key), str):
                seen.setdefault(kw[key], None)
        for c in kw.get("column_list") or []:
            seen.setdefault(c, None)
    return list(seen)


__all__ = [
    "ACCEPTED_STATUSES",
    "COUNTED_MARK",
    "HAS_PREFIX",
    "MIN_BIRTH_DATE",
    "NATURAL_KEY",
    "PARAM_CAMPAIGN_DATE",
    "PARAM_MIN_ACCEPTED_SHARE",
    "ROW_STATUS",
    "ROW_STATUSES",
    "SUITES_DIR",
    "build_suite",
    "custom_expectations",
    "dumps",
    "gate_representation",
    "has_column",
    "load_suite_document",
    "missing_reason",
    "referenced_columns",
    "suite_json",
    "suite_path",
    "suite_spec",
    "write_suites",
]
