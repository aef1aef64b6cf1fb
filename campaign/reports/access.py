"""Who may see and approve which report (the rules the portal applies to every report id it is asked
for): a coordinator (the DoH) every report; a district's health centre its own district's report and
its own facilities' plans, which come to it to be approved and sent (directive section 3: "gửi Kế hoạch
này cho Trung tâm Y tế để tổng hợp"); anything but a facility's plan is the DoH's to approve."""

from __future__ import annotations

from sqlalchemy.orm import Session

from campaign.accounts import SignedIn
from campaign.store.models import ReportRecord


def district_facilities(session: Session, district: str) -> dict[str, str]:
    """facility code -> name, of the district's current accepted facility list (the facilities whose plans
    its health centre collects)."""
    from campaign.store.current import current_rows

    rows, _ = current_rows(session, "facilities", ["facility_code", "facility_name"], [district])
    return {str(r.facility_code): str(r.facility_name or "") for r in rows.itertuples(index=False) if r.facility_code}


def may_see(session: Session, user: SignedIn, report: ReportRecord) -> bool:
    """A coordinator sees every report; a district its own report and its own facilities' plans."""
    return (user.is_coordinator or (report.level == "district" and report.unit == user.district_code)
            or (report.level == "facility" and user.district_code is not None
                and report.unit in district_facilities(session, user.district_code)))


def may_approve(user: SignedIn, level: str) -> bool:
    """Anything but a facility's plan is the DoH's (a coordinator's) to approve and send."""
    return user.is_coordinator or level == "facility"
