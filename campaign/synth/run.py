"""The whole synthetic campaign: the world, the upload plan and the defect plan, every district's files in
their layouts, and `manifest.json`. Same seed, people, rate and campaign -> byte-identical files."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from campaign.config import CampaignConfig, load_campaign
from campaign.config_kinds import load_input_kinds
from campaign.synth import defects as dfx
from campaign.synth.defect_plan import commune_traps, plan_target_defects
from campaign.synth.duplicates import duplicate_truth
from campaign.synth.files.emit import Context, Job, district_info, district_slug, emit
from campaign.synth.files.frames import blank_self_ambiguous, commune_cells, facility_frame, target_list_frame
from campaign.synth.files.layouts import choose_columns, choose_target_layouts, other_layout
from campaign.synth.manifest import DefectRecord, Manifest, ScheduleEntry
from campaign.synth.schedule import (
    SNAPSHOT_KINDS,
    Behaviour,
    deadlines_by_kind,
    local_time,
    plan_behaviour,
    snapshot_times,
)
from campaign.synth.world.build import World, build_world


def generate_campaign(out_dir: Path, *, people: int = 50_000, seed: int = 2021, defect_rate: float = 0.025,
                      campaign: CampaignConfig | None = None) -> Manifest:
    """Write a whole synthetic campaign under `out_dir` and return its manifest (also `manifest.json`).

    Same seed, people, rate and campaign -> byte-identical files and manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    campaign = campaign or load_campaign()
    rng = np.random.Generator(np.random.PCG64(seed))
    world = build_world(people, seed, campaign, rng=rng)
    colliding, self_amb, unknown = commune_traps(world.communes)
    colliding_districts = set(world.communes.loc[world.communes.code.isin(colliding), "district_code"])
    manifest = Manifest(seed=seed, people=people, defect_rate=defect_rate, campaign=campaign.campaign.id,
                        catalogue=[asdict(s) for s in dfx.CATALOGUE.values()])
    ctx = Context(out_dir, campaign, world.districts, world.communes, colliding, self_amb, unknown, manifest)
    districts = list(world.districts["code"])
    behaviour = plan_behaviour(rng, districts)
    deadline_of = deadlines_by_kind(campaign)

    # target-list layouts first: the defect plan depends on them
    tl_layouts = choose_target_layouts(rng, districts, colliding_districts)
    tl_spec = load_input_kinds()["target_list"]
    tl_columns = {d: choose_columns(tl_spec, tl_layouts[d], rng) for d in districts}
    entries = world.entries
    entries["_defect"] = plan_target_defects(rng, entries, tl_layouts, tl_columns, colliding, self_amb, defect_rate)

    for d in districts:
        d_name, d_short, _ = district_info(ctx, d)
        base = out_dir / "districts" / f"{d}-{district_slug(d_short)}"
        times = snapshot_times(rng, behaviour, d)
        fac = world.facilities[world.facilities.district_code == d]
        for kind in SNAPSHOT_KINDS:
            planned, status = times[kind]
            due = deadline_of.get(kind)
            if behaviour.missing == (d, kind):
                manifest.schedule.append(ScheduleEntry(d, kind, None, None, "missing", due[0] if due else None,
                                                       due[1].isoformat() if due else None, False))
                continue
            layout = tl_layouts[d] if kind == "target_list" else other_layout(rng, kind, d, colliding_districts)
            ext = "xlsx" if layout.fmt == "xlsx" else "csv"
            jobs: list[Job] = []
            if kind == "facilities":
                frame = facility_frame(ctx, fac, layout)
                if d == behaviour.rejected:
                    first = planned - dt.timedelta(days=2)
                    jobs.append(Job(d, kind, frame, layout, base / f"facilities.v1.{ext}", planned=first,
                                    status="rejected_version", version=1, drop_column="vaccination_tables"))
                    jobs.append(Job(d, kind, frame, layout, base / f"facilities.v2.{ext}", planned=planned,
                                    status=status, version=2))
                else:
                    jobs.append(Job(d, kind, frame, layout, base / f"facilities.{ext}", planned=planned, status=status))
            elif kind == "infrastructure":
                infra = world.infrastructure[world.infrastructure.district_code == d]
                for r in infra[infra["_missing"]].itertuples():
                    manifest.defects.append(DefectRecord("infrastructure_missing_facility", "readiness", None, d, kind,
                                                         None, note=f"facility {r.facility_code} not in the file"))
                jobs.append(Job(d, kind, infra[~infra["_missing"]], layout, base / f"infrastructure.{ext}",
                                planned=planned, status=status))
            elif kind == "training":
                jobs.append(Job(d, kind, world.training[world.training.district_code == d], layout,
                                base / f"training.{ext}", planned=planned, status=status))
            elif kind == "communication":
                comm = world.communication[world.communication.district_code == d].copy()
                names = comm["commune_name"]
                comm["commune_name"] = commune_cells(names, comm["_commune_short"], layout.commune_style)
                comm = blank_self_ambiguous(ctx, comm, "_commune_code", "commune_name")
                jobs.append(Job(d, kind, comm, layout, base / f"communication.{ext}", planned=planned, status=status))
            elif kind == "staff":
                st = world.staff[world.staff.district_code == d]
                if d in behaviour.per_facility_staff:
                    for f_code, part in st.groupby("facility_code", sort=True):
                        jobs.append(Job(d, kind, part, replace(layout, sheet=f_code), base / "staff" / f"{f_code}.{ext}",
                                        facility=str(f_code), planned=planned, status=status))
                else:
                    jobs.append(Job(d, kind, st, layout, base / f"staff.{ext}", planned=planned, status=status))
            elif kind == "target_list":
                e = entries[entries["_listed_district"] == d]
                jobs.append(Job(d, kind, target_list_frame(ctx, e, d, layout), layout, base / f"target_list.{ext}",
                                planned=planned, status=status, cols=tl_columns[d]))
            elif kind == "vaccine_stock":
                jobs.append(Job(d, kind, world.stock[world.stock.district_code == d], layout,
                                base / f"vaccine_stock.{ext}", planned=planned, status=status))
            for job in jobs:
                entry = emit(ctx, job, rng)
                on_time = None if not due else job.planned < due[1]
                manifest.schedule.append(ScheduleEntry(d, kind, entry.path, entry.planned_upload_at, job.status,
                                                       due[0] if due else None, due[1].isoformat() if due else None,
                                                       on_time if job.status != "rejected_version" else False))
        # events: vaccinations in two files (days 1-2, day 3), AEFI and backfill once
        _emit_events(ctx, world, d, base, behaviour, rng, colliding_districts)

    for a in world.anomalies:  # truths without a row to point at
        f = next((x.path for x in manifest.files if x.district == a["district"] and x.kind == a["kind"]), None)
        manifest.defects.append(DefectRecord(a["code"], "readiness", None, a["district"], a["kind"], f,
                                             note=a.get("note", "") + (f" ({a['facility']})" if a.get("facility") else "")))
    manifest.duplicates = duplicate_truth(ctx, entries)
    manifest.schedule.sort(key=lambda s: (s.planned_upload_at or "9999", s.district, s.kind))
    (out_dir / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _emit_events(ctx: Context, world: World, d: str, base: Path, b: Behaviour, rng: np.random.Generator,
                 colliding_districts: set[str]) -> None:
    days = world.session_days
    vac = world.vaccinations[world.vaccinations.district_code == d].copy()
    vac["_event_defect"] = ""
    part1 = vac[vac["_day"] <= 1].reset_index(drop=True)
    part2 = vac[vac["_day"] == 2].reset_index(drop=True)
    if d in b.unknown_facility and len(part1):
        # preferably a person with an AEFI row: the AEFI check then has a refused dose to say so about
        with_aefi = np.flatnonzero(part1["person_key"].isin(world.aefi["person_key"]).to_numpy(dtype=bool))
        pool = with_aefi if len(with_aefi) else np.arange(len(part1))
        i = int(pool[int(rng.integers(0, len(pool)))])
        part1.loc[i, "facility_code"] = f"64{d}-TYT-99"
        part1.loc[i, "_event_defect"] = "facility_code_unknown"
    if d in b.repeat_events and len(part1) >= 3:
        again = part1[part1["_event_defect"] == ""].sample(n=min(5, len(part1) - 1), random_state=rng).copy()
        again["_event_defect"] = "event_repeat_row"
        part2 = pd.concat([again, part2], ignore_index=True)
    layout = other_layout(rng, "vaccinations", d, colliding_districts)
    ext = "xlsx" if layout.fmt == "xlsx" else "csv"
    for k, (part, day) in enumerate([(part1, days[1]), (part2, days[2])], start=1):
        planned = local_time(day, int(rng.integers(18 * 60, 22 * 60 + 30)))
        if d in b.late:
            planned += dt.timedelta(days=1)
        entry = emit(ctx, Job(d, "vaccinations", part, layout, base / f"vaccinations-{k}.{ext}", planned=planned,
                              status="event_late" if d in b.late else "event"), rng)
        ctx.manifest.schedule.append(ScheduleEntry(d, "vaccinations", entry.path, entry.planned_upload_at, entry.status,
                                                   None, None, None))
    after = days[-1] + dt.timedelta(days=1)
    aefi = world.aefi[world.aefi.district_code == d].copy()
    # the province has no accepted dose for an AEFI row whose results row was refused (unknown facility) or
    # whose results file a late district sends after the AEFI file: the AEFI check says so (a warning)
    refused = set(part1.loc[part1["_event_defect"] == "facility_code_unknown", "person_key"])
    after_it = set(part2["person_key"]) - set(part1["person_key"]) if d in b.late else set()
    aefi["_event_defect"] = np.where(aefi["person_key"].isin(refused | after_it), "aefi_dose_not_accepted", "")
    layout = other_layout(rng, "aefi", d, colliding_districts)
    ext = "xlsx" if layout.fmt == "xlsx" else "csv"
    entry = emit(ctx, Job(d, "aefi", aefi, layout, base / f"aefi.{ext}", planned=local_time(after, int(rng.integers(8 * 60, 17 * 60))),
                          status="event"), rng)
    ctx.manifest.schedule.append(ScheduleEntry(d, "aefi", entry.path, entry.planned_upload_at, "event", None, None, None))
    back = blank_self_ambiguous(ctx, world.backfill[world.backfill.district_code == d].copy(), "_commune_code", "commune_name")
    layout = other_layout(rng, "backfill", d, colliding_districts)
    ext = "xlsx" if layout.fmt == "xlsx" else "csv"
    back["commune_name"] = commune_cells(back["commune_name"], back["_commune_short"], layout.commune_style)
    entry = emit(ctx, Job(d, "backfill", back, layout, base / f"backfill.{ext}",
                          planned=local_time(after + dt.timedelta(days=1), int(rng.integers(8 * 60, 17 * 60))), status="event"), rng)
    ctx.manifest.schedule.append(ScheduleEntry(d, "backfill", entry.path, entry.planned_upload_at, "event", None, None, None))
