"""The national platform's subject-list import layout (the module doc of `campaign.master_list.export`):
its columns, title lines and two-row header, and the values of a person's source row as its cells. Pure
(reads the product labels and phone rules of `config/`, no database).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from campaign.config_kinds import load_input_kinds
from campaign.domain.admin_units import AdminUnits

EXPORT_KINDS = ("target_list",)
KIND = "target_list"
SHEET_NAME = "Sheet1"

# The instruction lines above the header (the last one blank), as the template has them.
TITLE_LINES: tuple[str, ...] = (
    "DANH SÁCH ĐỐI TƯỢNG TIÊM CHỦNG VẮC XIN COVID-19",
    "Lưu ý: Các cột có dấu (*) là bắt buộc nhập. Ngày sinh nhập theo định dạng dd/mm/yyyy. "
    "Giới tính: 0 - Nam, 1 - Nữ.",
    "Mã nhóm đối tượng ưu tiên theo Quyết định 3355/QĐ-BYT (từ 1 đến 16). "
    "Số điện thoại ít nhất 10 số. Không sửa, xóa các dòng tiêu đề.",
    "",
)
HEADER_ROWS: tuple[int, int] = (len(TITLE_LINES) + 1, len(TITLE_LINES) + 2)  # 1-based, as Excel shows them
FIRST_DATA_ROW = HEADER_ROWS[1] + 1                                           # 1-based

PLACE = "Nơi ở tạm trú (hiện tại)"
DOSE1, DOSE2 = "Mũi 1", "Mũi 2"
IMPORT_RESULT = "Kết quả import"

CellKind = Literal["seq", "text", "number", "date"]


@dataclass(frozen=True)
class ExportColumn:
    """One column of the national layout: the canonical value it shows (`key`), its header (the
    sub-header when `group` is set) and how its cells are written."""

    key: str
    header: str
    group: str | None = None
    cell: CellKind = "text"
    width: float = 16
    required: bool = False  # marked (*): the platform refuses a row without it


COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("#", "#", cell="seq", width=6),
    ExportColumn("full_name", "Họ và tên (*)", width=28, required=True),
    ExportColumn("birth_date", "Ngày sinh dạng dd/mm/yyyy (*)", cell="date", width=14, required=True),
    ExportColumn("sex", "Giới tính (*)\n(0: nam, 1: nữ)", cell="number", width=10, required=True),
    ExportColumn("priority_group", "Mã nhóm đối tượng ưu tiên (*)", cell="number", width=12, required=True),
    ExportColumn("workplace", "Đơn vị công tác", width=24),
    ExportColumn("phone", "Số điện thoại (*)\n(ít nhất 10 số)", width=14, required=True),
    ExportColumn("id_number", "Số CMT/CCCD\n(8/9/12 số)", width=15),
    ExportColumn("insurance_number", "Số thẻ bảo hiểm y tế\n(10/15 ký tự)", width=18),
    ExportColumn("province_name", "Tỉnh/Thành phố", PLACE, width=14),
    ExportColumn("province_code", "Mã Tỉnh (*)", PLACE, width=8, required=True),
    ExportColumn("district_name", "Quận/Huyện", PLACE, width=16),
    ExportColumn("district_code", "Mã Quận/Huyện (*)", PLACE, width=10, required=True),
    ExportColumn("commune_name", "Xã/Phường", PLACE, width=18),
    ExportColumn("commune_code", "Mã Xã/Phường (*)", PLACE, width=10, required=True),
    ExportColumn("address_detail", "Địa chỉ chi tiết", PLACE, width=24),
    ExportColumn("dose1_product", "Tên vắc xin", DOSE1, width=14),
    ExportColumn("dose1_date", "Ngày tiêm", DOSE1, cell="date", width=12),
    ExportColumn("dose1_lot", "Lô vắc xin", DOSE1, width=12),
    ExportColumn("dose1_site", "Địa điểm tiêm", DOSE1, width=14),
    ExportColumn("dose2_product", "Tên vắc xin", DOSE2, width=14),
    ExportColumn("dose2_date", "Ngày tiêm", DOSE2, cell="date", width=12),
    ExportColumn("dose2_lot", "Lô vắc xin", DOSE2, width=12),
    ExportColumn("dose2_site", "Địa điểm tiêm", DOSE2, width=14),
    ExportColumn("note", "Ghi chú", width=24),
    ExportColumn("import_result", IMPORT_RESULT, width=20),
)

# The source columns read from `target_list_rows` (besides the provenance ones).
ROW_COLUMNS = ("full_name", "birth_date", "sex", "priority_group", "workplace", "phone", "id_number",
               "insurance_number", "province_name", "province_code", "district_name", "district_code",
               "commune_name", "commune_code", "address_detail", "dose1_product", "dose1_date", "dose1_lot",
               "dose1_site", "dose2_product", "dose2_date", "dose2_lot", "dose2_site", "note")

SEX_CODES = {"male": 0, "female": 1}

# master_persons.ineligible_reason -> the note an exported ineligible person gets ({min_age}: config).
INELIGIBLE_NOTES = {
    "under_age": "chưa đủ {min_age} tuổi",
    "fully_vaccinated": "đã tiêm đủ liều",
    "contraindicated": "chống chỉ định tiêm",
    "deferred": "đang hoãn tiêm",
}
INELIGIBLE_PREFIX = "Chưa đủ điều kiện mời tiêm"


class Person(NamedTuple):
    person_id: str
    run_id: int
    submission_id: int
    row_number: int
    district: str
    commune_code: str | None
    priority_group: int | None
    eligible: bool
    ineligible_reason: str | None


def national_phone(phone: str | None, country_code: str = "84") -> str | None:
    """E.164 numbers of the country in the national form: "+84912345678" -> "0912345678". Other values
    (a foreign number, something intake kept as is) are returned unchanged."""
    if not phone:
        return None
    phone = phone.strip()
    prefix = "+" + country_code
    if phone.startswith(prefix) and phone[len(prefix):].isdigit():
        return "0" + phone[len(prefix):]
    return phone or None


def _vn_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Places:
    """Province, district and commune (code, official name) of a person, from the GSO codes; cached."""

    def __init__(self, units: AdminUnits, province_code: str):
        self.units = units
        self.province_code = province_code
        self._communes: dict[str, Any] = {}
        self._districts: dict[str, Any] = {}

    def commune(self, code: str | None) -> Any:
        if not code:
            return None
        if code not in self._communes:
            self._communes[code] = self.units.commune(code)
        return self._communes[code]

    def district(self, code: str | None) -> Any:
        if not code:
            return None
        if code not in self._districts:
            self._districts[code] = self.units.district(code)
        return self._districts[code]

    def resolve(self, person_district: str, commune_code: str | None, row: dict[str, Any]) -> dict[str, Any]:
        commune = self.commune(commune_code)
        district = self.district(commune.parent_code if commune is not None else person_district)
        province = self.units.province(district.parent_code if district is not None else self.province_code)
        return {
            "province_code": province.code if province is not None else self.province_code,
            "province_name": province.name if province is not None else _text(row.get("province_name")),
            "district_code": district.code if district is not None else person_district,
            "district_name": district.name if district is not None else _text(row.get("district_name")),
            "commune_code": commune.code if commune is not None else _text(commune_code),
            "commune_name": commune.name if commune is not None else _text(row.get("commune_name")),
        }


def product_labels() -> dict[str, str]:
    return {key: v.label for key, v in load_input_kinds().enums["vaccine_product"].items()}


def _ineligible_note(reason: str | None, min_age: int) -> str:
    what = INELIGIBLE_NOTES.get(reason or "", reason or "không rõ lý do").format(min_age=min_age)
    return f"{INELIGIBLE_PREFIX}: {what}"


def render(person: Person, row: dict[str, Any], places: Places, products: dict[str, str],
            min_age: int, country_code: str) -> dict[str, Any]:
    """The cells of one person, by column key (None = empty cell)."""
    out: dict[str, Any] = {
        "full_name": _text(row.get("full_name")),
        "birth_date": _vn_date(row.get("birth_date")),
        "sex": SEX_CODES.get(row.get("sex") or ""),
        "priority_group": _int(person.priority_group) if person.priority_group is not None
        else _int(row.get("priority_group")),
        "workplace": _text(row.get("workplace")),
        "phone": national_phone(row.get("phone"), country_code),
        "id_number": _text(row.get("id_number")),
        "insurance_number": _text(row.get("insurance_number")),
        "address_detail": _text(row.get("address_detail")),
        "note": _text(row.get("note")),
        "import_result": None,
    }
    out.update(places.resolve(person.district, person.commune_code or row.get("commune_code"), row))
    for dose in ("dose1", "dose2"):
        product = _text(row.get(f"{dose}_product"))
        out[f"{dose}_product"] = products.get(product, product) if product else None
        out[f"{dose}_date"] = _vn_date(row.get(f"{dose}_date"))
        out[f"{dose}_lot"] = _text(row.get(f"{dose}_lot"))
        out[f"{dose}_site"] = _text(row.get(f"{dose}_site"))
    if not person.eligible:
        flag = _ineligible_note(person.ineligible_reason, min_age)
        out["note"] = f"{flag}; {out['note']}" if out["note"] else flag
    return out
