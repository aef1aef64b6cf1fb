"""The board's "Trong đợt tiêm chủng" part: per district the campaign days' figures (daily results, doses
linked, stock reconciliation, AEFI), the serious AEFI cases whose 24-hour investigation is open or overdue,
and the stock discrepancies (each naming its file and row). Read with the report's own loader and built by
the report's own section builders (`campaign.reports.during` + `rules_during`): the board, the province
report's II.3/II.4 and `campaign results-daily|doses|stock|aefi --json` show one count."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from campaign import clock
from campaign.aefi import present as aefi_present
from campaign.aefi import run as aefi_run
from campaign.aefi.rules import OPEN, OVERDUE_CASE
from campaign.config import CampaignConfig
from campaign.readiness.present import district_names
from campaign.reports.during import load_during
from campaign.reports.model import Table
from campaign.reports.rules_during import parts
from campaign.vocabulary import campaign_days_columns, campaign_days_word

# the words of the template's "Trong đợt tiêm chủng" part (config/vocabulary.yaml `campaign_days`)
BOARD_WORDS = ("board_title", "board_aefi_cases", "board_aefi_serious", "board_doses_linked",
               "board_stock_discrepancies", "board_aefi_open_title", "board_aefi_none", "board_stock_title",
               "board_stock_none")


def _table(t: Table) -> dict[str, Any]:
    return {"title": t.title, "columns": t.columns, "note": t.note,
            "rows": [["-" if c is None else c for c in r] for r in t.rows]}


def province_view(session: Session, campaign: CampaignConfig, now: dt.datetime) -> dict[str, Any]:
    """The coordinators' board at `now` (`pages.province_board`, with `during`: `campaign_days`), AEFI assessed
    ONCE for both: the deadline board's provider (the investigations' deliverables) and the campaign days'
    figures read the same assessment (`campaign.aefi.run.assessed_once`)."""
    from faces.portal import pages

    with aefi_run.assessed_once(session, campaign, now):
        data = pages.province_board(session, campaign, now)
        data["during"] = campaign_days(session, campaign, now)
    return data


def campaign_days(session: Session, campaign: CampaignConfig, now: dt.datetime) -> dict[str, Any]:
    """The board's figures of the campaign days at `now` (province level, per district)."""
    districts = list(campaign.district_codes)
    names = district_names(districts)
    during = load_during(session, campaign, now)
    p = parts(during, level="province", unit=campaign.province.code, districts=districts, facility=None,
              names=names, facility_names={}, as_of=now)
    inv = during.aefi.investigations if during.aefi is not None else pd.DataFrame()
    chasing = inv[inv["state"].isin([OPEN, OVERDUE_CASE])] if len(inv) else inv
    cases = [{"case_id": r["case_id"], "kind": r["kind"], "members": len(r["members"]), "district": names.get(r["district"], r["district"]),
              "facility_code": r["facility_code"], "product_lot": f"{r['product'] or '-'}/{r['lot'] or '-'}",
              "due": f"{clock.local(pd.Timestamp(r['due_at']).to_pydatetime()):%d/%m/%Y %H:%M}",
              "hours_left": r["hours_left"], "state": r["state"], "state_label": aefi_present.STATE_WORDS[r["state"]]}
             for r in chasing.to_dict("records")] if len(chasing) else []
    stock = p.figures.get("stock") or {}
    return {"tables": [_table(t) for t in [*p.ii4_tables, *p.ii3_tables]
                       if t.title != campaign_days_word("stock_findings_title")],   # the discrepancies: listed below
            "lines": [*p.ii3_paragraphs, *p.ii4_paragraphs],
            "aefi_open": cases, "stock_lines": stock.get("lines", []),
            "days": [d.isoformat() for d in during.days], "figures": p.figures,
            "words": {k: campaign_days_word(k) for k in BOARD_WORDS},
            "aefi_open_columns": campaign_days_columns("board_aefi_open_columns")}
