"""The synthetic world: a Gia Lai 2021 campaign as DataFrames, drawn from one seeded generator; no files.

Real: the province, its 17 districts and 220 communes (GSO codes, from `campaign.domain.admin_units`),
the campaign's products, roles and deadlines (from `config/`). Random: everything about people,
facilities' staff, stock and events. No real personal data is ever used.

Everything about people is vectorised (numpy over whole columns); Python loops run over districts,
facilities or priority groups only, never over people. Same seed -> same world.

    draw.py           vectorised helpers (digit strings, weighted picks, object-dtype frames)
    identity.py       how a person's numbers look: phones, CCCD/CMND, ages by priority group
    admin.py          districts and communes, with the district facts the draws are weighted by
    facilities.py     facilities and their infrastructure
    staff.py          staff pools, training, the teams of each session
    communication.py  the districts' communication activities
    people.py         people and their target-list entries (with the planted duplicate listings)
    stock.py          vaccine stock per facility
    events.py         vaccinations, AEFI and backfill of the first campaign days
    build.py          `World` and `build_world`: all of the above in the order the seed draws them
"""

from __future__ import annotations
