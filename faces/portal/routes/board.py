"""The coordinators' pages: the province board, the saved column readings, the audit log; and the health
check."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from campaign import clock, jobs
from faces.portal import board_campaign, pages
from faces.portal.deps import CoordinatorDep, Form10, PortalDep
from faces.portal.state import PortalError

router = APIRouter()


@router.get("/tinh", response_class=HTMLResponse)
def board(request: Request, portal: PortalDep, user: CoordinatorDep) -> Response:
    with portal.session() as s:
        # one moment and one AEFI assessment for the whole page (the deadlines and the campaign days)
        data = board_campaign.province_view(s, portal.res.campaign, clock.now())
        # the runs and jobs that ended badly: by the real clock (they happened now, whatever CAMPAIGN_NOW)
        data["troubled_jobs"] = pages.troubled_jobs(
            s, dt.datetime.now(dt.UTC) - dt.timedelta(days=pages.RUN_DAYS))
    data["troubled_runs"] = portal.troubled_runs()
    return portal.render("board.html.j2", request, user, **data)


@router.get("/tinh/cach-doc-cot", response_class=HTMLResponse)
def column_mappings(request: Request, portal: PortalDep, user: CoordinatorDep) -> Response:
    with portal.session() as s:
        data = pages.column_mappings_page(s, portal.res.campaign)
    return portal.render("mappings.html.j2", request, user, **data)


@router.post("/tinh/cach-doc-cot/xoa")
async def reset_column_mappings(request: Request, portal: PortalDep, user: CoordinatorDep, form: Form10) -> Response:
    from campaign.config_kinds import load_input_kinds
    from campaign.intake.columns import reset_mappings

    district = str(form.get("district", ""))
    kind = str(form.get("kind", "")) or None
    key = str(form.get("heading_key", ""))[:300] or None
    if district not in portal.res.campaign.district_codes or (kind is not None and kind not in load_input_kinds().kinds):
        raise PortalError(400, "Huyện hoặc loại dữ liệu không hợp lệ.")

    def reset() -> int:
        with portal.writer() as s, s.begin():
            removed = reset_mappings(s, district, kind=kind, heading_key=key)
            portal.record(request, user, "mappings_reset", session=s, target_type="district",
                          target_label=district, details={"kind": kind, "one_heading": key is not None,
                                                          "removed": removed})
            return removed

    await run_in_threadpool(reset)
    return RedirectResponse("/tinh/cach-doc-cot?notice=mappings-reset", status_code=303)


@router.get("/tinh/nhat-ky", response_class=HTMLResponse)
def audit_log(request: Request, portal: PortalDep, user: CoordinatorDep) -> Response:
    """The audit log for coordinators: filters by account, district, action and days; pages of events."""
    query = pages.audit_query(dict(request.query_params))
    with portal.session() as s:
        data = pages.audit_page(s, portal.res.campaign, query)
    return portal.render("audit.html.j2", request, user, **data)


@router.get("/suc-khoe")
def health(portal: PortalDep) -> Response:
    with portal.session() as s:
        queued = jobs.queued_count(s)
    return JSONResponse({"status": "ok", "queued": queued})
