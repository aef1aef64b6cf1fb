"""Reports: a district's report and its facilities' plans asked for (built by the compile-report flow in a
warm worker), their files downloaded, and approved and sent upward."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from campaign import clock, jobs
from campaign.accounts import SignedIn
from campaign.reports import access
from campaign.store.models import ReportRecord
from faces.portal.deps import DistrictDep, Form5, PortalDep, UserDep
from faces.portal.state import COORDINATORS_ONLY, NOT_FOUND, DbId, PortalError

router = APIRouter()


@router.post("/huyen/{code}/bao-cao")
async def request_report(request: Request, portal: PortalDep, user: UserDep, code: DistrictDep,
                         form: Form5) -> Response:
    def enqueue() -> int:
        with portal.writer() as s, s.begin():
            job = jobs.enqueue_report(s, user, district=code, received_at=clock.to_utc(clock.now()))
            portal.record(request, user, "report_build", session=s, target_type="job", target_id=job.id,
                          details={"level": "district", "unit": code})
            return job.id

    job_id = await run_in_threadpool(enqueue)
    return RedirectResponse(f"/viec/{job_id}", status_code=303)


@router.post("/huyen/{code}/co-so/{facility}/ke-hoach")
async def request_facility_plan(request: Request, portal: PortalDep, user: UserDep, code: DistrictDep,
                                form: Form5, facility: str) -> Response:
    """A facility's plan, asked for by its district's health centre (directive section 3: "hướng dẫn các
    cơ sở tiêm chủng thuộc địa bàn quản lý xây dựng Kế hoạch ...; gửi Kế hoạch này cho Trung tâm Y tế"):
    built by the compile-report flow like the district's report, then approved and sent from the page."""
    def enqueue() -> int:
        with portal.session() as s:
            if facility not in access.district_facilities(s, code):   # only the district's own facilities
                raise PortalError(404, NOT_FOUND, denied={"reason": "other_facility", "target_type": "facility",
                                                          "target_label": facility})
        with portal.writer() as s, s.begin():
            job = jobs.enqueue_report(s, user, district=code, facility=facility,
                                      received_at=clock.to_utc(clock.now()))
            portal.record(request, user, "report_build", session=s, target_type="job", target_id=job.id,
                          target_label=facility, details={"level": "facility"})
            return job.id

    job_id = await run_in_threadpool(enqueue)
    return RedirectResponse(f"/viec/{job_id}", status_code=303)


def _report(s: Session, user: SignedIn, report_id: int) -> ReportRecord:
    """A coordinator sees every report; a district its own report and its own facilities' plans."""
    rep = s.get(ReportRecord, report_id)
    if rep is None:
        raise PortalError(404, NOT_FOUND)
    if not access.may_see(s, user, rep):
        raise PortalError(404, NOT_FOUND, denied={"reason": "other_district", "target_type": "report",
                                                  "target_id": report_id})
    return rep


@router.get("/bao-cao/{report_id}.{fmt}")
def report_file(request: Request, portal: PortalDep, user: UserDep, report_id: DbId, fmt: str) -> Response:
    with portal.session() as s:
        rep = _report(s, user, report_id)
        entry = rep.files.get(fmt)
    if not entry or not Path(entry["path"]).is_file():
        raise PortalError(404, "Không có tệp báo cáo ở định dạng này.")
    portal.record(request, user, "download_report", target_type="report", target_id=report_id,
                  target_label=f"{rep.level}:{rep.unit}:v{rep.version}", details={"format": fmt})
    return FileResponse(entry["path"], filename=Path(entry["path"]).name)


@router.post("/bao-cao/{report_id}/duyet")
async def approve_report(request: Request, portal: PortalDep, user: UserDep, form: Form5, report_id: DbId) -> Response:
    from campaign.deadlines.notify import DeliveryError, Notifier
    from campaign.reports.rules import ReportError
    from campaign.reports.run import send

    # the DoH approves and sends a district's report; a health centre its own facilities' plans, which
    # come to it (directive section 3: "gửi Kế hoạch này cho Trung tâm Y tế để tổng hợp")
    resources = portal.res
    with portal.session() as s:
        if not user.is_coordinator:   # anything but a facility's plan is the DoH's to approve
            found = s.get(ReportRecord, report_id)
            if found is None or not access.may_approve(user, found.level):
                raise PortalError(403, COORDINATORS_ONLY, denied=None if found is None else {
                    "reason": "coordinators_page", "target_type": "report", "target_id": report_id})
        rep = _report(s, user, report_id)   # a facility of another district: not found
        level, unit, version, approved = rep.level, rep.unit, rep.version, rep.approved_at is not None
    at = clock.to_utc(clock.now())

    def approve_and_send() -> None:   # the database and the mail server: off the event loop
        send(resources.engine, resources.campaign, lambda: Notifier.from_settings(resources.settings), level=level,
             unit=unit, by=user.display_name, at=at, actor=portal.actor(request, user),
             approve_version=None if approved else version, target_id=report_id,
             target_label=f"{level}:{unit}:v{version}")

    try:
        await run_in_threadpool(approve_and_send)
    except ReportError as exc:
        raise PortalError(409, str(exc)) from None
    except (DeliveryError, OSError) as exc:
        raise PortalError(502, f"Đã duyệt nhưng chưa gửi được thư ({type(exc).__name__}); thử gửi lại sau.") from None
    if not user.is_coordinator:
        return RedirectResponse(f"/huyen/{user.district_code}?notice=plan-sent#ke-hoach-co-so", status_code=303)
    return RedirectResponse("/tinh?notice=report-approved", status_code=303)
