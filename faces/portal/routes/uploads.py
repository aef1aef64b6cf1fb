"""A district's page and its uploads: the page (what it owes, its submissions), a file sent, the job that
takes it in (its page and the status its script polls), and the templates to fill."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from campaign import clock, jobs
from campaign.accounts import SignedIn
from campaign.files import store_original
from campaign.intake.rules import file_value_refusal
from campaign.store.models import PortalJob
from faces.portal import pages
from faces.portal.deps import DistrictDep, MaybeUserDep, PortalDep, UserDep, read_form
from faces.portal.state import NOT_FOUND, XLSX_MEDIA_TYPE, DbId, Portal, PortalError, clean_filename

router = APIRouter()


@router.get("/huyen/{code}", response_class=HTMLResponse)
def district_home(request: Request, portal: PortalDep, user: UserDep, code: DistrictDep) -> Response:
    with portal.session() as s:
        data = pages.district_page(s, portal.res.campaign, code, clock.now(), technical=user.is_coordinator)
    return portal.render("district.html.j2", request, user, **data)


@router.post("/huyen/{code}/tai-len")
async def upload(request: Request, portal: PortalDep, user: UserDep, code: DistrictDep) -> Response:
    if not (request.headers.get("content-length") or "").isdigit():
        # a body of unknown length would be spooled whole before its size could be refused
        raise PortalError(411, "Trình duyệt không báo kích thước tệp: xin gửi lại bằng biểu mẫu trên trang.")
    length = int(request.headers["content-length"])
    if length > portal.max_bytes + 64 * 1024:
        raise PortalError(413, f"Tệp quá lớn ({length / 1024 / 1024:.1f} MB); giới hạn {portal.max_bytes / 1024 / 1024:.0f} MB "
                               "mỗi tệp. Xin chia nhỏ tệp hoặc bỏ các trang không cần thiết.")
    form = await read_form(request, user, max_files=1, max_fields=10)   # only once the size is known
    kind = str(form.get("kind", ""))
    if kind not in {k["name"] for k in pages.uploadable_kinds()}:
        raise PortalError(400, "Chưa chọn loại dữ liệu hợp lệ.")
    facility = re.sub(r"[^A-Za-z0-9._-]", "", str(form.get("facility", ""))).upper() or None
    if (too_long := file_value_refusal(kind, facility=facility)) is not None:   # the intake's own rule
        raise PortalError(400, too_long.detail_vi)
    upload = form.get("file")
    if upload is None or not hasattr(upload, "read") or not getattr(upload, "filename", ""):
        raise PortalError(400, "Chưa chọn tệp để gửi.")
    name = clean_filename(upload.filename)
    try:
        stored, size = await _receive(portal, upload)
    except PortalError as exc:   # too large, or not a spreadsheet: who tried what, not what it held
        refused = {"kind": kind, "district": code, "status": exc.status}
        await run_in_threadpool(lambda: portal.record(request, user, "upload", outcome="refused",
                                                      target_type="file", target_label=name, details=refused))
        raise
    received_at = clock.to_utc(clock.now())

    def enqueue() -> int:   # may wait for SQLite's write lock (a large file being loaded): off the loop
        with portal.writer() as s, s.begin():
            job = jobs.enqueue_upload(s, user, district=code, kind=kind, facility=facility, stored=stored,
                                      filename=name, received_at=received_at)
            portal.record(request, user, "upload", session=s, target_type="job", target_id=job.id,
                          target_label=name, details={"kind": kind, "facility": facility, "bytes": size})
            return job.id

    job_id = await run_in_threadpool(enqueue)
    return RedirectResponse(f"/viec/{job_id}", status_code=303)


def _job(s: Session, user: SignedIn, job_id: int) -> PortalJob:
    job = jobs.job_for(s, user, job_id)
    if job is None:
        raise PortalError(404, NOT_FOUND, denied=None if s.get(PortalJob, job_id) is None else {
            "reason": "other_district", "target_type": "job", "target_id": job_id})
    return job


@router.get("/viec/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, portal: PortalDep, user: UserDep, job_id: DbId) -> Response:
    with portal.session() as s:
        job = _job(s, user, job_id)
        _status, target = jobs.result(s, job)
        if job.status == jobs.DONE and target:
            return RedirectResponse(target, status_code=303)
        row = pages.job_row(job, technical=user.is_coordinator)
        ahead = jobs.queue_position(s, job)
    return portal.render("job.html.j2", request, user, job=row, ahead=ahead)


@router.get("/viec/{job_id}/trang-thai")
def job_status(request: Request, portal: PortalDep, user: MaybeUserDep, job_id: DbId) -> Response:
    if user is None:
        return JSONResponse({"error": "signed_out"}, status_code=401)
    with portal.session() as s:
        try:
            job = _job(s, user, job_id)
        except PortalError as exc:
            if exc.denied is not None:
                portal.denied(request, user, **exc.denied)
            return JSONResponse({"error": "not_found"}, status_code=404)
        status, target = jobs.result(s, job)
        return JSONResponse({"status": status, "ahead": jobs.queue_position(s, job), "next": target,
                             "error": pages.job_error(job, technical=user.is_coordinator)})


@router.get("/mau/{kind}.xlsx")
def template(portal: PortalDep, user: UserDep, kind: str) -> Response:
    from campaign.config_kinds import load_input_kinds
    from campaign.io.templates import write_template

    kinds = load_input_kinds()
    if kind not in kinds.kinds:
        raise PortalError(404, "Không có mẫu cho loại dữ liệu này.")
    path = portal.templates_dir / f"{kind}.xlsx"
    if not path.is_file():
        portal.templates_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=portal.templates_dir, suffix=".xlsx")
        os.close(fd)
        write_template(kinds.kinds[kind], kinds, Path(tmp))
        Path(tmp).replace(path)
    return FileResponse(path, filename=f"mau-{kind}.xlsx", media_type=XLSX_MEDIA_TYPE)


async def _receive(portal: Portal, upload: Any) -> tuple[Any, int]:
    """Copy the upload to disk in chunks (refusing it past the size limit), check by content that it is a
    spreadsheet or CSV, then store it content-addressed. Returns (StoredOriginal, size)."""
    from campaign.io.sniff import ReadError, sniff_file

    portal.uploads_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=portal.uploads_dir, prefix="upload-")
    tmp = Path(tmp_name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > portal.max_bytes:
                    raise PortalError(413, f"Tệp quá lớn (trên {portal.max_bytes / 1024 / 1024:.0f} MB, giới hạn mỗi tệp). "
                                           "Xin chia nhỏ tệp hoặc bỏ các trang không cần thiết.")
                out.write(chunk)
        try:   # reading and hashing a file of up to the limit: off the event loop
            await run_in_threadpool(sniff_file, tmp, max_bytes=portal.max_bytes)
        except ReadError as exc:
            raise PortalError(415, f"Không nhận tệp này: {exc.detail_vi}") from None
        return await run_in_threadpool(store_original, tmp, portal.res.settings.files_dir), size
    finally:
        tmp.unlink(missing_ok=True)
