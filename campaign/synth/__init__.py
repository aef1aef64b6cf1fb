"""Synthetic Gia Lai 2021 campaign data: a seeded world, district files in realistic layouts with
planted defects, and a manifest of the truth (never real personal data). See docs/synthetic-data.md.

    from campaign.synth import generate_campaign, generate_province_target_lists, generate_target_list_file
    manifest = generate_campaign(Path("out"), people=50_000, seed=2021)
"""

from campaign.synth.defects import CATALOGUE, DefectSpec
from campaign.synth.generate import World, build_world
from campaign.synth.write import (
    LAYOUTS,
    DefectRecord,
    FileEntry,
    Layout,
    Manifest,
    ScheduleEntry,
    generate_campaign,
    generate_province_target_lists,
    generate_target_list_file,
)

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
