"""Target lists only, fast (benchmarks): one big district file, or the whole province's lists, with the
same people, duplicates and cell defects as the demo and nothing else."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from campaign.config import CampaignConfig, load_campaign
from campaign.config_kinds import load_input_kinds
from campaign.synth import defects as dfx
from campaign.synth.defect_plan import commune_traps, plan_target_defects
from campaign.synth.duplicates import duplicate_truth
from campaign.synth.files.emit import Context, Job, district_info, district_slug, emit
from campaign.synth.files.frames import target_list_frame
from campaign.synth.files.layouts import LAYOUTS, choose_columns
from campaign.synth.manifest import Manifest
from campaign.synth.world.admin import prepare_admin
from campaign.synth.world.people import draw_people, list_entries


def generate_target_list_file(path: Path, rows: int, seed: int = 2021, *, district: str = "622",
                              defect_rate: float = 0.025, layout: str = "csv_bom",
                              campaign: CampaignConfig | None = None) -> Manifest:
    """One district's target list of `rows` people as one file in any layout of `LAYOUTS` (default: CSV,
    UTF-8 with BOM; "xlsx_official" etc. for a workbook, up to Excel's 1,048,576 rows), with the same
    cell defects and within-district duplicates as the demo; returns its manifest (not written)."""
    path = Path(path)
    campaign = campaign or load_campaign()
    rng = np.random.Generator(np.random.PCG64(seed))
    districts, communes = prepare_admin(campaign)
    one = districts[districts.code == district].reset_index(drop=True)
    comm = communes[communes.district_code == district].reset_index(drop=True)
    people = draw_people(rng, rows, one, comm, None, campaign.campaign.campaign_date)
    entries = list_entries(rng, people, one, comm, rate_cross=0.0)
    del people  # a million rows: keep one copy of the columns, not two
    colliding, self_amb, unknown = commune_traps(communes)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    lay = LAYOUTS[layout]
    cols = choose_columns(load_input_kinds()["target_list"], lay, rng)
    entries["_defect"] = plan_target_defects(rng, entries, {district: lay}, {district: cols}, colliding, self_amb,
                                               defect_rate)
    manifest = Manifest(seed=seed, people=rows, defect_rate=defect_rate, campaign=campaign.campaign.id)
    ctx = Context(path.parent, campaign, districts, communes, colliding, self_amb, unknown, manifest)
    frame = target_list_frame(ctx, entries, district, lay)
    entries = entries[["entry_id", "person_key", "_dup", "_listed_district", "_variation"]]  # all the truth needs
    emit(ctx, Job(district, "target_list", frame, lay, path, planned=None, status="benchmark", cols=cols), rng)
    del frame
    manifest.duplicates = duplicate_truth(ctx, entries)
    return manifest


def generate_province_target_lists(out_dir: Path, people: int, seed: int = 2021, *, defect_rate: float = 0.025,
                                   layout: str = "csv_bom", campaign: CampaignConfig | None = None) -> Manifest:
    """The whole province's target lists, fast: one file per district in one layout of `LAYOUTS`
    (default: CSV, UTF-8 with BOM) at `out_dir/districts/<code>-<slug>/target_list.<ext>`, as
    `generate_campaign` names them, with the same people, within- and cross-district duplicates and cell
    defects as the demo, and nothing else (no other kind, no schedule). Returns the manifest (`files`,
    `defects`, `duplicates`), also written to `out_dir/manifest.json`. Same arguments -> same bytes."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    campaign = campaign or load_campaign()
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    lay = LAYOUTS[layout]
    rng = np.random.Generator(np.random.PCG64(seed))
    districts, communes = prepare_admin(campaign)
    ppl = draw_people(rng, people, districts, communes, None, campaign.campaign.campaign_date)
    entries = list_entries(rng, ppl, districts, communes)  # the demo's within- and cross-district rates
    del ppl  # a million rows: keep one copy of the columns, not two
    colliding, self_amb, unknown = commune_traps(communes)
    codes = [str(d) for d in districts["code"]]
    spec = load_input_kinds()["target_list"]
    cols = {d: choose_columns(spec, lay, rng) for d in codes}
    entries["_defect"] = plan_target_defects(rng, entries, dict.fromkeys(codes, lay), cols, colliding, self_amb,
                                               defect_rate)
    manifest = Manifest(seed=seed, people=people, defect_rate=defect_rate, campaign=campaign.campaign.id,
                        catalogue=[asdict(s) for s in dfx.CATALOGUE.values()])
    ctx = Context(out_dir, campaign, districts, communes, colliding, self_amb, unknown, manifest)
    ext = "xlsx" if lay.fmt == "xlsx" else "csv"
    listed = entries["_listed_district"].to_numpy(dtype=object)
    for d in codes:
        _, d_short, _ = district_info(ctx, d)
        frame = target_list_frame(ctx, entries[listed == d], d, lay)
        path = out_dir / "districts" / f"{d}-{district_slug(d_short)}" / f"target_list.{ext}"
        emit(ctx, Job(d, "target_list", frame, lay, path, planned=None, status="benchmark", cols=cols[d]), rng)
        del frame
    entries = entries[["entry_id", "person_key", "_dup", "_listed_district", "_variation"]]  # all the truth needs
    manifest.duplicates = duplicate_truth(ctx, entries)
    (out_dir / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest
