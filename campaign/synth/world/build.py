"""The whole world in one call. The order of the draws is the seed's contract: moving one changes
every value after it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from campaign.config import CampaignConfig, load_campaign
from campaign.synth.world.admin import prepare_admin
from campaign.synth.world.communication import draw_communication
from campaign.synth.world.events import draw_events
from campaign.synth.world.facilities import draw_facilities, draw_infrastructure
from campaign.synth.world.people import draw_people, list_entries
from campaign.synth.world.staff import draw_staff_pool, draw_teams, draw_training
from campaign.synth.world.stock import draw_stock

# Gia Lai's clock (UTC+7): every planned upload and event time of the campaign is in it.
TZ = dt.timezone(dt.timedelta(hours=7))


@dataclass
class World:
    """Every entity of the synthetic campaign. Columns named like the input kinds' canonical columns
    hold the true values; columns starting with `_` are bookkeeping (anomaly codes, ids, truth)."""

    seed: int
    campaign: CampaignConfig
    districts: pd.DataFrame
    communes: pd.DataFrame
    facilities: pd.DataFrame
    infrastructure: pd.DataFrame
    staff_pool: pd.DataFrame
    training: pd.DataFrame
    communication: pd.DataFrame
    staff: pd.DataFrame
    people: pd.DataFrame
    entries: pd.DataFrame  # target-list rows: people, plus within- and cross-district duplicates
    stock: pd.DataFrame
    vaccinations: pd.DataFrame
    aefi: pd.DataFrame
    backfill: pd.DataFrame
    session_days: list[dt.date] = field(default_factory=list)
    anomalies: list[dict] = field(default_factory=list)  # facility-level truths with no row to point at


def session_days(campaign: CampaignConfig) -> list[dt.date]:
    """The first three campaign days, from the campaign date on."""
    d0 = campaign.campaign.campaign_date
    return [d0 + dt.timedelta(days=i) for i in range(3)]


def build_world(people: int = 50_000, seed: int = 2021, campaign: CampaignConfig | None = None,
                rng: np.random.Generator | None = None) -> World:
    """Draw the whole synthetic campaign. Deterministic for a given seed and campaign."""
    campaign = campaign or load_campaign()
    rng = rng or np.random.Generator(np.random.PCG64(seed))
    days = session_days(campaign)
    districts, communes = prepare_admin(campaign)
    fac = draw_facilities(rng, districts, communes)
    infra = draw_infrastructure(rng, fac)
    pool = draw_staff_pool(rng, fac, districts)
    training, untrained = draw_training(rng, pool, days)
    staff, missing_role = draw_teams(rng, fac, pool, days, untrained)
    comm, missing_cert = draw_communication(rng, districts, communes, days)
    ppl = draw_people(rng, people, districts, communes, fac, campaign.campaign.campaign_date)
    entries = list_entries(rng, ppl, districts, communes)
    stock = draw_stock(rng, fac, campaign, days)
    vac, aefi, back = draw_events(rng, ppl, fac, stock, campaign, days)
    anomalies = [{"code": "comm_missing_certificate_lookup", "district": d, "kind": "communication",
                  "note": "no activity carries the certificate-lookup message"} for d in missing_cert]
    for f, day, part, team, role in missing_role:
        anomalies.append({"code": "team_missing_role", "district": f[2:5], "kind": "staff", "facility": f,
                          "note": f"{day.isoformat()} {part} team {team} has no {role}"})
    return World(seed=seed, campaign=campaign, districts=districts, communes=communes, facilities=fac,
                 infrastructure=infra, staff_pool=pool, training=training, communication=comm, staff=staff,
                 people=ppl, entries=entries, stock=stock, vaccinations=vac, aefi=aefi, backfill=back,
                 session_days=days, anomalies=anomalies)
