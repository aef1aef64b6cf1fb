"""How long reading a file's headings takes: the matcher (campaign/io/headers.py) on the top rows plus the
content step (campaign/io/content.py) on the first 200 data rows, for several real-shaped layouts.

Target (issue 16): < 50 ms per file (headings + first 200 rows). Baseline in the same run: pandas reading
the same 201 rows of CSV (`pd.read_csv(nrows=200)`), so that a slow, shared machine shows in both.

    uv run python benchmarks/bench_headings.py [--repeat 30] [--out benchmarks/results/headings.json]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import machine  # noqa: E402
from campaign.config_kinds import load_input_kinds  # noqa: E402
from campaign.io import headers, reader, workbook  # noqa: E402
from campaign.io import heading_words as words  # noqa: E402
from campaign.io.content import ContentHints  # noqa: E402

LAYOUTS = {
    "clerk_caps": ["STT", "HỌ VÀ TÊN", "NGÀY SINH", "NAM/NỮ", "SỐ CMND/CCCD/HỘ CHIẾU", "ĐIỆN THOẠI LIÊN HỆ",
                   "ĐỐI TƯỢNG ƯU TIÊN", "XÃ/PHƯỜNG/THỊ TRẤN", "Dân tộc"],
    "abbreviations": ["Họ và tên người được tiêm", "NS", "GT", "ĐT", "Nhóm", "Phường/Xã", "Số CCCD/CMND",
                      "Tiền sử dị ứng", "Kết quả import"],
    "split_names": ["TT", "Họ và tên đệm", "Tên", "Ngày tháng năm sinh", "Giới tính", "Đối tượng", "SĐT", "Xã",
                    "Thôn", "Ghi chú"],
    "unknown_id_heading": ["Họ tên", "Năm sinh", "Giới", "Nhóm ưu tiên", "Di động", "Xã", "Cột lạ"],
}


def rows_for(layout: list[str], n: int) -> list[list[str]]:
    values = {"STT": "1", "TT": "1", "HỌ VÀ TÊN": "Nguyễn Văn An", "Họ và tên người được tiêm": "Nguyễn Văn An",
              "Họ tên": "Nguyễn Văn An", "Họ và tên đệm": "Nguyễn Văn", "Tên": "An", "NGÀY SINH": "12/03/1960",
              "NS": "12/03/1960", "Ngày tháng năm sinh": "12/03/1960", "Năm sinh": "1960", "NAM/NỮ": "Nam",
              "GT": "Nam", "Giới tính": "Nam", "Giới": "Nữ", "SỐ CMND/CCCD/HỘ CHIẾU": "064123456789",
              "Số CCCD/CMND": "064123456789", "Cột lạ": "064123456789", "ĐIỆN THOẠI LIÊN HỆ": "0912345678",
              "ĐT": "0912345678", "SĐT": "0912345678", "Di động": "0912345678", "ĐỐI TƯỢNG ƯU TIÊN": "9",
              "Nhóm": "Nhóm 9", "Đối tượng": "9", "Nhóm ưu tiên": "9", "XÃ/PHƯỜNG/THỊ TRẤN": "Ia Kha",
              "Phường/Xã": "Ia Kha", "Xã": "Ia Kha", "Thôn": "Plei A", "Dân tộc": "Jrai",
              "Tiền sử dị ứng": "Không", "Kết quả import": "OK", "Ghi chú": ""}
    return [layout] + [[values.get(h, "x") for h in layout] for _ in range(n)]


def read_headings(rows: list[list[str]], spec) -> headers.HeaderLayout:  # noqa: ANN001
    """What the reader does before the body: the header, then the cells where the headings cannot say
    (the reader's own functions, on the first 200 data rows)."""
    layout = headers.detect_header(rows[: headers.HEADER_SCAN_ROWS + 1], spec)
    assert layout is not None
    first = layout.rows[-1] + 1
    body = workbook._rows_to_body(rows[first:], first + 1)
    reader._read_by_content(layout, spec, body, ContentHints())
    return layout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/headings.json"))
    args = ap.parse_args()
    spec = load_input_kinds()["target_list"]
    results = {}
    for name, layout in LAYOUTS.items():
        rows = rows_for(layout, 200)
        text = "\n".join(",".join(r) for r in rows)
        ours, base = [], []
        for _ in range(args.repeat):
            words.heading_words.cache_clear()          # a cold heading each time: the worst case
            headers._MATCHERS.clear()
            t = time.perf_counter()
            read_headings(rows, spec)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            pd.read_csv(io.StringIO(text), nrows=200, dtype=str)
            base.append(time.perf_counter() - t)
        m_ours, m_base = statistics.median(ours), statistics.median(base)
        results[name] = {"headings_ms": round(m_ours * 1000, 2), "pandas_read_200_rows_ms": round(m_base * 1000, 2),
                         "ratio": round(m_ours / m_base, 2), "max_ms": round(max(ours) * 1000, 2)}
        print(f"{name:20s} headings {m_ours * 1000:6.2f} ms (max {max(ours) * 1000:6.2f})  "
              f"pandas 200 rows {m_base * 1000:6.2f} ms  ratio {m_ours / m_base:.2f}")
    out = {"machine": machine(), "repeat": args.repeat, "command": " ".join(sys.argv), "layouts": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
