"""Demo tasks: generate the synthetic campaign (the core does the work)."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from campaign.synth import generate_campaign


@task(name="generate-inputs", cache_policy=NO_CACHE)
def generate_inputs(out_dir: str, people: int, seed: int) -> str:
    """Write every district's files and the manifest; returns the manifest's path."""
    manifest = generate_campaign(Path(out_dir), people=people, seed=seed)
    path = Path(out_dir) / "manifest.json"
    if not path.exists():
        path.write_text(manifest.to_json(), encoding="utf-8")
    return str(path)
