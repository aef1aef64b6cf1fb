"""Doses linked to people (issue 20.1): one day of results for the whole province (100,000 rows) linked to
a 1M-person master list, against a baseline in the same run.

Setup (once per `--work`, not timed): a synthetic master list of `--persons` people (Vietnamese names from
weighted family / middle / given name lists, birth dates, phones, 12-digit CCCDs for 85%, the 17 districts
and their communes), prepared as the master list prepares its records (`records.build_records`), a
Splink model trained by the master list's own `train` on a 100,000-record sample (plus 5% of its people listed
twice, so that the model has duplicates to learn from, as a real list has), and `--rows` result rows
of listed people: 80% with their ID (a third of them written with spaces or dots), 15% without ID
(half of the names typed without diacritics, a tenth with the birth year only), 5% of people in no list.

Then, each in a fresh process (wall and peak RSS of the child via `wait4`), `--runs` times:
- (a) linking: `campaign.doses.run.link_frames` on the frames (ID first, the model for the rest, review
  decisions, history, conflicts, courses, the persons' changes), the database read and write excluded;
- (b) baseline: a plain pandas merge of the rows' IDs on the list's CCCDs (what a VLOOKUP does: links the
  rows with an exact ID, nothing else).

    .venv/bin/python benchmarks/bench_link_doses.py [--persons 1000000] [--rows 100000] [--runs 3]
        [--work /tmp/bench-link-doses]
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import machine, report, run_measured

HERE = Path(__file__).parent
ROOT = HERE.parent
TARGETS = {"link_seconds": 60, "link_peak_mib": 3072}
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý", "Rơ Châm", "Ksor", "Siu", "Rah Lan"]
FAMILY_W = [38, 11, 9.5, 7, 5.1, 4.1, 4.5, 3.9, 2.5, 2.1, 2, 1.4, 1.3, 1.3, 1, 0.5, 1.5, 1.5, 1.2, 0.8]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Xuân", "Hoàng", "Kim", "Thu", "Anh",
          "Đình", "Công", "Bá", "Như", "Phương"]
GIVEN = ["An", "Anh", "Bình", "Chi", "Cường", "Dũng", "Dung", "Duy", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa",
         "Hòa", "Hùng", "Hương", "Huy", "Khánh", "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Nga", "Ngọc",
         "Nhung", "Phong", "Phúc", "Phương", "Quang", "Quân", "Sơn", "Tâm", "Thảo", "Thắng", "Thành", "Thủy",
         "Trang", "Trung", "Tú", "Tuấn", "Vân", "Việt", "Vy", "Xuân", "Yến", "H'Bia", "Y Ơn", "Blơi", "Kpă",
         "Đào", "Đức", "Khoa", "Lộc", "Lợi", "Nghĩa", "Nhân", "Phát", "Quý", "Sang", "Tài", "Thiện", "Toàn",
         "Trí", "Vinh", "Hậu", "Hiền", "Hồng", "Liên", "Loan", "My", "Oanh", "Quyên", "Tiên", "Uyên"]


def _setup(work: Path, persons: int, rows: int, seed: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from campaign.config import load_campaign
    from campaign.domain.admin_units import get_admin_units
    from campaign.domain.text import fold_series
    from campaign.master_list.dedupe import model as linkage
    from campaign.master_list.dedupe.records import build_records

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    campaign = load_campaign()
    units = get_admin_units()
    districts = list(campaign.district_codes)
    communes = {d: [c.code for c in units.communes_of(d)] or [None] for d in districts}
    fam = rng.choice(FAMILY, persons, p=np.array(FAMILY_W) / sum(FAMILY_W))
    mid = rng.choice(MIDDLE, persons)
    giv = rng.choice(GIVEN, persons)
    names = pd.Series(fam, dtype=object) + " " + pd.Series(mid, dtype=object) + " " + pd.Series(giv, dtype=object)
    born = pd.Timestamp("1940-01-01") + pd.to_timedelta(rng.integers(0, 365 * 63, persons), unit="D")
    district = rng.choice(districts, persons)
    commune = np.array([communes[d][i % len(communes[d])] for d, i in zip(district, rng.integers(0, 50, persons),
                                                                          strict=True)], dtype=object)
    phone = np.array([f"+849{x:08d}" for x in rng.choice(10**8, persons, replace=False)], dtype=object)
    cccd = np.array([f"064{x:09d}" for x in rng.choice(10**9, persons, replace=False)], dtype=object)
    has_id = rng.random(persons) < 0.85
    listed = pd.DataFrame({
        "submission_id": 1, "sheet": None, "row_number": np.arange(persons) + 2, "district": district,
        "full_name": names.to_numpy(dtype=object), "birth_date": born.date, "sex": rng.choice(["male", "female"], persons),
        "phone": phone, "id_number": np.where(has_id, cccd, None), "insurance_number": None, "commune_code": commune,
        "workplace": None, "priority_group": rng.integers(1, 17, persons), "dose1_date": None})
    records = build_records(listed, None)
    records["person_id"] = np.array([f"GL{i:08d}" for i in range(persons)], dtype=object)
    t0 = time.perf_counter()
    # the list's model learns from the list's own duplicates: the sample holds 5% of its people twice (once
    # typed without diacritics, a third without ID, a third with another phone), as district lists do
    base = listed.sample(min(100_000, persons), random_state=seed).reset_index(drop=True)
    twice = base.sample(frac=0.05, random_state=seed + 1).reset_index(drop=True)
    twice["full_name"] = fold_series(twice["full_name"]).str.title()
    k = np.arange(len(twice)) % 3
    twice.loc[k == 0, "id_number"] = None
    twice.loc[k == 1, "phone"] = [f"+848{x:08d}" for x in rng.choice(10**8, int((k == 1).sum()), replace=False)]
    sample = build_records(pd.concat([base, twice], ignore_index=True), None)
    model = linkage.train(sample, linkage.Training())
    train_s = time.perf_counter() - t0

    who = rng.choice(persons, rows, replace=False)
    kind = rng.random(rows)
    r = listed.iloc[who].reset_index(drop=True)
    ids = r["id_number"].copy()
    with_id = (kind < 0.80) & ids.notna().to_numpy()
    spaced = with_id & (rng.random(rows) < 0.33)
    ids = ids.where(with_id, None)
    ids[spaced] = ids[spaced].str.slice(0, 3) + " " + ids[spaced].str.slice(3, 6) + "." + ids[spaced].str.slice(6)
    name = r["full_name"].copy()
    plain = ~with_id & (rng.random(rows) < 0.5)
    name[plain] = fold_series(name[plain]).str.title()
    born_r = pd.Series(r["birth_date"].to_numpy(dtype=object))
    year_only = ~with_id & (rng.random(rows) < 0.1)
    born_r[year_only] = [pd.Timestamp(year=d.year, month=1, day=1).date() for d in born_r[year_only]]
    nobody = kind >= 0.95
    name[nobody] = "Người Ngoài " + pd.Series(rng.choice(GIVEN, int(nobody.sum())))
    ids[nobody] = None
    phone_r = r["phone"].where(~nobody, None)
    vac = pd.DataFrame({
        "district": r["district"].to_numpy(), "submission_id": 2, "row_number": np.arange(rows) + 2,
        "facility_code": "64" + r["district"].astype(str) + "-TYT-01", "full_name": name.to_numpy(dtype=object),
        "birth_date": born_r.to_numpy(dtype=object), "sex": r["sex"].to_numpy(), "id_number": ids.to_numpy(dtype=object),
        "phone": phone_r.to_numpy(dtype=object), "session_date": pd.Timestamp("2021-07-29").date(), "vaccinated": "yes",
        "product": rng.choice(["astrazeneca", "pfizer", "vero_cell"], rows), "lot": "LOT1",
        "dose_number": rng.choice([1, 2], rows, p=[0.7, 0.3])})
    persons_frame = pd.DataFrame({"person_id": records["person_id"], "district": district, "eligible": True,
                                  "ineligible_reason": None, "next_dose": 1, "dose1_date": None,
                                  "dose1_product": None, "invite_rank": np.arange(persons) + 1})
    with (work / "inputs.pkl").open("wb") as f:
        pickle.dump({"records": records, "vac": vac, "persons": persons_frame, "model": model}, f,
                    protocol=pickle.HIGHEST_PROTOCOL)
    return {"setup_seconds": round(time.perf_counter() - started, 1), "train_seconds": round(train_s, 1),
            "rows_with_id": int(with_id.sum()), "rows_written_with_spaces": int(spaced.sum()),
            "rows_without_id": int((~with_id & ~nobody).sum()), "rows_of_nobody": int(nobody.sum())}


def _child(mode: str, work: Path) -> dict[str, Any]:
    import pandas as pd

    with (work / "inputs.pkl").open("rb") as f:
        data = pickle.load(f)
    started = time.perf_counter()
    if mode == "baseline":
        from campaign.doses.rules import normalize_ids

        v = data["vac"]
        key = normalize_ids(v["id_number"])
        merged = pd.DataFrame({"key": key}).merge(
            data["records"][["cccd", "person_id"]].dropna(), left_on="key", right_on="cccd", how="left")
        return {"seconds": time.perf_counter() - started, "linked": int(merged["person_id"].notna().sum())}
    from campaign.config import load_campaign
    from campaign.doses import store
    from campaign.doses.run import link_frames

    back = pd.DataFrame(columns=["district", "submission_id", "row_number", "facility_code", "full_name", "birth_date",
                                 "sex", "id_number", "phone", "commune_name", "product", "lot", "dose_number",
                                 "vaccinated_on"])
    target = pd.DataFrame(columns=["submission_id", "row_number", "district", "person_id"])
    inputs = store.Inputs(vaccinations=data["vac"], backfill=back, records=data["records"], target=target,
                          persons=data["persons"], model=data["model"], master_run_id=1, inputs=[])
    doses, links, history, found, changes = link_frames(inputs, load_campaign())
    seconds = time.perf_counter() - started
    by = links.groupby(["status", links["method"].fillna("-")]).size()
    return {"seconds": seconds, "linked": int((links["status"] == "linked").sum()),
            "by_status_method": {f"{a}/{b}": int(n) for (a, b), n in by.items()},
            "reasons": {str(k): int(v) for k, v in links["reason"].value_counts().items()},
            "conflicts": int(len(found)), "persons_changed": int(len(changes))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-link-doses"))
    ap.add_argument("--child", choices=["link", "baseline", "setup"], default=None)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    if a.child == "setup":
        print(json.dumps(_setup(a.work, a.persons, a.rows, a.seed)))
        return
    if a.child:
        print(json.dumps(_child(a.child, a.work)))
        return
    a.work.mkdir(parents=True, exist_ok=True)
    stamp = a.work / f"setup-{a.persons}-{a.rows}-{a.seed}.json"
    if not stamp.exists():
        m = run_measured([sys.executable, __file__, "--child", "setup", "--work", str(a.work), "--persons",
                          str(a.persons), "--rows", str(a.rows), "--seed", str(a.seed)], cwd=ROOT)
        if m.get("returncode", 0):
            raise SystemExit(m["stderr"])
        info = json.loads(m["stdout"].strip().splitlines()[-1])
        info["setup_peak_mib"] = round(m["peak_mib"])
        stamp.write_text(json.dumps(info))
    setup = json.loads(stamp.read_text())
    runs: dict[str, list[dict[str, Any]]] = {"link": [], "baseline": []}
    for _ in range(a.runs):
        for mode in ("baseline", "link"):
            m = run_measured([sys.executable, __file__, "--child", mode, "--work", str(a.work)], cwd=ROOT)
            out = json.loads(m["stdout"].strip().splitlines()[-1])
            out.update(process_seconds=round(m["seconds"], 2), peak_mib=round(m["peak_mib"]))
            runs[mode].append(out)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    result = {
        "benchmark": "link_doses", "machine": machine(), "persons": a.persons, "rows": a.rows, "runs": a.runs,
        "setup": setup, "link_seconds_median": round(med["link"], 2),
        "link_seconds": [round(r["seconds"], 2) for r in runs["link"]],
        "link_peak_mib": max(r["peak_mib"] for r in runs["link"]),
        "baseline_seconds_median": round(med["baseline"], 3),
        "baseline_seconds": [round(r["seconds"], 3) for r in runs["baseline"]],
        "baseline_peak_mib": max(r["peak_mib"] for r in runs["baseline"]),
        "ratio": round(med["link"] / med["baseline"], 1) if med["baseline"] else None,
        "link_outcome": runs["link"][0], "baseline_linked": runs["baseline"][0]["linked"], "targets": TARGETS,
        "targets_met": {"link_seconds": med["link"] < TARGETS["link_seconds"],
                        "link_peak_mib": max(r["peak_mib"] for r in runs["link"]) < TARGETS["link_peak_mib"]}}
    report("link_doses", result)


if __name__ == "__main__":
    main()
