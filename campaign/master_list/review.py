"""The review workflow of the master list: the candidate pairs the model could not settle, shown side by
side (`open_pairs`), a reviewer's decision on a pair (`decide`), taking one back (`reverse`), the
decisions made (`decisions`). A decision counts from the next build on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign.master_list.rules import KIND, SIDE_COLUMNS, masked
from campaign.store.models import KIND_TABLES, ReviewDecision, ReviewPair


class ReviewError(ValueError):
    """A review command that cannot apply (unknown pair or decision, already reversed): exit code 2."""


def _row(session: Session, submission_id: int, row_number: int) -> dict[str, Any]:
    t = KIND_TABLES[KIND]
    r = session.execute(select(*(t.c[c] for c in SIDE_COLUMNS)).where(
        t.c.submission_id == submission_id, t.c.row_number == row_number)).mappings().first()
    out = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in (r or {}).items()}
    return {"submission_id": submission_id, "row_number": row_number, **out}


def pairs_to_review(session: Session) -> int:
    """How many candidate pairs wait for a person's decision (every district)."""
    return session.scalar(select(func.count()).select_from(ReviewPair)) or 0


def open_pairs(session: Session, *, district: str | None = None, limit: int | None = None,
               mask: bool = False) -> list[dict[str, Any]]:
    """The pairs still to review, most probable first, with both records side by side (`mask`: for
    artifacts, see `masked`)."""
    pairs = session.execute(select(ReviewPair).order_by(ReviewPair.match_probability.desc(),
                                                        ReviewPair.pair_key)).scalars().all()
    out = []
    for p in pairs:
        a, b = _row(session, p.submission_a, p.row_a), _row(session, p.submission_b, p.row_b)
        if district is not None and district not in (a.get("district"), b.get("district")):
            continue
        if mask:
            a, b = masked(a), masked(b)
        out.append({"pair": p.pair_key, "match_probability": round(p.match_probability, 4), "reason": p.reason,
                    "a": a, "b": b})
        if limit is not None and len(out) >= limit:
            break
    return out


def decide(session: Session, pair: str, decision: str, *, by: str, at: dt.datetime,
           note: str | None = None) -> ReviewDecision:
    """Record a decision on a pair under review (or on a pair decided before, to change it)."""
    if decision not in ("same", "different"):
        raise ReviewError(f"decision must be 'same' or 'different', not {decision!r}")
    p = session.get(ReviewPair, pair)
    if p is None:
        earlier = session.execute(select(ReviewDecision).where(ReviewDecision.pair_key == pair)
                                  .order_by(ReviewDecision.id.desc()).limit(1)).scalar_one_or_none()
        if earlier is None:
            raise ReviewError(f"no pair {pair!r} in the review list (see `campaign review`)")
        fa, fb = earlier.fingerprint_a, earlier.fingerprint_b
    else:
        fa, fb = p.fingerprint_a, p.fingerprint_b
    made = ReviewDecision(pair_key=pair, fingerprint_a=fa, fingerprint_b=fb, decision=decision, decided_by=by,
                          decided_at=at, note=note)
    session.add(made)
    session.flush()
    return made


def reverse(session: Session, decision_id: int, *, by: str, at: dt.datetime) -> ReviewDecision:
    """Take a decision back: from the next run on, the pair is judged by the model again."""
    made = session.get(ReviewDecision, decision_id)
    if made is None:
        raise ReviewError(f"no decision {decision_id}")
    if made.reversed_at is not None:
        raise ReviewError(f"decision {decision_id} was already reversed")
    made.reversed_at, made.reversed_by = at, by
    session.flush()
    return made


def decisions(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(ReviewDecision).order_by(ReviewDecision.id)).scalars().all()
    return [{"id": d.id, "pair": d.pair_key, "decision": d.decision, "decided_by": d.decided_by,
             "decided_at": d.decided_at.isoformat(), "note": d.note,
             "reversed_at": d.reversed_at.isoformat() if d.reversed_at else None, "reversed_by": d.reversed_by}
            for d in rows]
