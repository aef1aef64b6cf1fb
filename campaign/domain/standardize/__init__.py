"""The standardizer: raw district cells -> clean typed values, each with a reason code.

Pure, vectorised functions, one module per field family; each returns a `FieldResult(value, reason)`
with one reason per row (the most severe issue of that field, a code of `config/reasons.yaml`):

    names      clean_names, clean_text
    ids        clean_id_numbers (CMND/CCCD), clean_insurance_numbers (BHYT)
    phones     clean_phones -> E.164, rules in config/phone_prefixes.yaml (load_phone_rules)
    dates      parse_dates (role "birth" | "other"), parse_datetimes, excel_serial_to_date
    codes      clean_sex, clean_priority_groups, clean_enum, clean_booleans, clean_integers,
               clean_decimals, clean_facility_codes, clean_admin_codes
    communes   resolve_communes (within the uploading district)
    cross      cccd_facts, cccd_mismatches, sex_from_cccd, age_on, under_age, duplicates_in_file
    core       standardize(frame, kind, ...) -> Standardized(clean, issues, reasons, row_severity,
               quarantined, missing_columns)
"""

from ._base import SEVERITY_RANK, FieldResult, severity_of, worst
from .codes import (
    clean_admin_codes,
    clean_booleans,
    clean_decimals,
    clean_enum,
    clean_facility_codes,
    clean_integers,
    clean_priority_groups,
    clean_sex,
    enum_table,
    normalize_facility_code,
)
from .communes import CommuneResult, resolve_communes
from .core import NAME_COLUMNS, Standardized, clean_column, standardize
from .cross import age_on, cccd_facts, cccd_mismatches, duplicates_in_file, sex_from_cccd, under_age
from .dates import excel_serial_to_date, parse_dates, parse_datetimes
from .ids import clean_id_numbers, clean_insurance_numbers
from .names import clean_names, clean_text
from .phones import PHONE_PREFIXES_FILE, PhoneRules, clean_phones, load_phone_rules

__all__ = [
    "NAME_COLUMNS",
    "PHONE_PREFIXES_FILE",
    "SEVERITY_RANK",
    "CommuneResult",
    "FieldResult",
    "PhoneRules",
    "Standardized",
    "age_on",
    "cccd_facts",
    "cccd_mismatches",
    "clean_admin_codes",
    "clean_booleans",
    "clean_column",
    "clean_decimals",
    "clean_enum",
    "clean_facility_codes",
    "clean_id_numbers",
    "clean_insurance_numbers",
    "clean_integers",
    "clean_names",
    "clean_phones",
    "clean_priority_groups",
    "clean_sex",
    "clean_text",
    "duplicates_in_file",
    "enum_table",
    "excel_serial_to_date",
    "load_phone_rules",
    "normalize_facility_code",
    "parse_dates",
    "parse_datetimes",
    "resolve_communes",
    "severity_of",
    "sex_from_cccd",
    "standardize",
    "under_age",
    "worst",
]
