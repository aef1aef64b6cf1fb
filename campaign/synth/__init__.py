"""Synthetic Gia Lai 2021 campaign data: a seeded world, district files in realistic layouts with
planted defects, and a manifest of the truth (never real personal data). See docs/synthetic-data.md.

    from campaign.synth import generate_campaign, generate_province_target_lists, generate_target_list_file
    manifest = generate_campaign(Path("out"), people=50_000, seed=2021)

The package in two halves: `world/` draws the campaign's data (DataFrames, no files) and `files/` writes
district files in their layouts; `schedule.py` and `defect_plan.py` plan the uploads and the defects,
`run.py` composes everything into a campaign, `target_lists.py` the fast target-list-only variants,
`manifest.py` records the truth.
"""

from campaign.synth.defects import CATALOGUE, DefectSpec
from campaign.synth.files.layouts import LAYOUTS, Layout
from campaign.synth.manifest import DefectRecord, FileEntry, Manifest, ScheduleEntry
from campaign.synth.run import generate_campaign
from campaign.synth.target_lists import generate_province_target_lists, generate_target_list_file
from campaign.synth.world.build import World, build_world

__all__ = [
    "CATALOGUE",
    "LAYOUTS",
    "DefectRecord",
    "DefectSpec",
    "FileEntry",
    "Layout",
    "Manifest",
    "ScheduleEntry",
    "World",
    "build_world",
    "generate_campaign",
    "generate_province_target_lists",
    "generate_target_list_file",
]
