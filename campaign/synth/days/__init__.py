"""Synthetic campaign days AFTER the plan (issue 20.5): what facilities send once the published plan's
sessions are held. Generated data only (the people are the master list's synthetic people, new names come
from the synth name pools).

    plan_view.py  reads what the days follow from the database: the published plan's sessions and
                  invitations (with each person's identity), the people not invited, the facilities' stock
    draw.py       pure, given a seed: per day the results (vaccinated, deferred, no-shows, walk-ins), the
                  backfill, the AEFI (exactly one serious case), the stock ledger, and who sends late or nothing
    write.py      the district and facility files in the clerks' layouts, each with its planned upload time,
                  and `campaign_days.json` (the truth of the days)

    from campaign.synth.campaign_days import generate_campaign_days
    days = generate_campaign_days(engine, campaign, Path("out/days"), days=3, seed=2021)
"""
