"""Writing personal-data workbooks safely: one place for the options and the atomic replace."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xlsxwriter

# Constant memory: one row in memory, rows written in order. Text is only ever written with write_string,
# and xlsxwriter must not turn strings into formulas, numbers or links on its own either.
SAFE_OPTIONS: dict[str, Any] = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}


def write_atomically(path: Path, fill: Callable[[xlsxwriter.Workbook], None], *, prefix: str,
                     workbook_class: type[xlsxwriter.Workbook] = xlsxwriter.Workbook) -> Path:
    """Build the workbook in a private temporary file beside `path` (mkstemp's 0600 kept on purpose: the
    file holds personal data), then replace `path` with it; on any error `path` is left as it was."""
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".xlsx", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        wb = workbook_class(str(tmp), {**SAFE_OPTIONS, "tmpdir": str(path.parent)})
        try:
            fill(wb)
        finally:
            wb.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
