"""A submission: its feedback page and files, its Data Docs, withdrawing it, reading it again with the
columns corrected by the clerk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from campaign import clock, jobs
from campaign.accounts import SignedIn
from campaign.store.models import Submission
from faces.portal import pages
from faces.portal.deps import Form5, PortalDep, UserDep, csrf_form
from faces.portal.state import NOT_FOUND, XLSX_MEDIA_TYPE, DbId, PortalError

router = APIRouter()


def _submission(s: Session, user: SignedIn, sub_id: int) -> Submission:
    sub = s.get(Submission, sub_id)
    if sub is None:
        raise PortalError(404, NOT_FOUND)
    if not user.may_see(sub.district_code):
        raise PortalError(404, NOT_FOUND, denied={"reason": "other_district", "target_type": "submission",
                                                  "target_id": sub_id})
    return sub


def _problems_workbook(sub: Submission) -> Path | None:
    """A CSV upload's feedback is a .csv; the summary and its rows with problems are a workbook beside it."""
    from campaign.intake.feedback import problems_workbook_path

    if not sub.feedback_path or not sub.feedback_path.endswith(".csv"):
        return None
    path = problems_workbook_path(sub.feedback_path)
    return path if path.is_file() else None


def data_docs_site(page: Path, docs_home: Path) -> Path:
    """The Data Docs site a validation page belongs to: the nearest folder above it holding the site's
    index.html, never above this submission's own folder under `docs_home`."""
    page, home = page.resolve(), docs_home.resolve()
    for folder in page.parents:
        if not folder.is_relative_to(home) or folder == home:
            break
        if (folder / "index.html").is_file():
            return folder
    return page.parent


@router.get("/nop/{sub_id}", response_class=HTMLResponse)
def submission_page(request: Request, portal: PortalDep, user: UserDep, sub_id: DbId) -> Response:
    with portal.session() as s:
        sub = _submission(s, user, sub_id)
        data = pages.feedback(s, sub)
        problems = _problems_workbook(sub)
    return portal.render("submission.html.j2", request, user, **data, has_problems_file=problems is not None)


@router.get("/nop/{sub_id}/tep-phan-hoi")
def feedback_file(request: Request, portal: PortalDep, user: UserDep, sub_id: DbId) -> Response:
    with portal.session() as s:
        sub = _submission(s, user, sub_id)
        path = Path(sub.feedback_path) if sub.feedback_path else None
    if path is None or not path.is_file():
        raise PortalError(404, "Tệp phản hồi của lần gửi này chưa có.")
    portal.record(request, user, "download_feedback", target_type="submission", target_id=sub_id,
                  details={"file": "annotated"})
    return FileResponse(path, filename=f"phan-hoi-{sub_id}-{sub.kind}{path.suffix}",
                        media_type=XLSX_MEDIA_TYPE if path.suffix == ".xlsx" else "text/csv; charset=utf-8")


@router.get("/nop/{sub_id}/tep-phan-hoi/dong-loi")
def feedback_problems(request: Request, portal: PortalDep, user: UserDep, sub_id: DbId) -> Response:
    with portal.session() as s:
        sub = _submission(s, user, sub_id)
        path = _problems_workbook(sub)
    if path is None:
        raise PortalError(404, "Lần gửi này không có bảng các dòng bị loại, cần kiểm tra.")
    portal.record(request, user, "download_feedback", target_type="submission", target_id=sub_id,
                  details={"file": "problems"})
    return FileResponse(path, filename=f"phan-hoi-{sub_id}-{sub.kind}-dong-loi.xlsx", media_type=XLSX_MEDIA_TYPE)


@router.get("/nop/{sub_id}/data-docs/{rest:path}")
def data_docs(portal: PortalDep, user: UserDep, sub_id: DbId, rest: str) -> Response:
    with portal.session() as s:
        sub = _submission(s, user, sub_id)
        index = Path(sub.data_docs_path) if sub.data_docs_path else None
    if index is None or not index.is_file():
        raise PortalError(404, "Lần gửi này không có trang kiểm tra dữ liệu (Data Docs).")
    root = data_docs_site(index, portal.res.settings.home / "data_docs")
    if not rest:   # the validation page, inside its site so that its links (index, static/) resolve
        return RedirectResponse(f"/nop/{sub_id}/data-docs/{index.resolve().relative_to(root).as_posix()}",
                                status_code=303)
    target = (root / rest).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise PortalError(404, NOT_FOUND)
    from faces.portal.data_docs import served

    # pages and stylesheets load their CDN assets from the portal itself (offline; faces.portal.data_docs)
    if (body := served(target)) is not None:
        media = "text/html; charset=utf-8" if target.suffix.lower() == ".html" else "text/css; charset=utf-8"
        return Response(body, media_type=media)
    return FileResponse(target)


@router.post("/nop/{sub_id}/rut")
async def withdraw(request: Request, portal: PortalDep, user: UserDep, form: Form5, sub_id: DbId) -> Response:
    from campaign.intake.rules import UsageError
    from campaign.intake.store import withdraw as withdraw_submission

    reason = str(form.get("reason", "")).strip()[:500]
    if not reason:
        raise PortalError(400, "Cần ghi lý do rút tệp.")

    def take_back() -> None:
        with portal.writer() as s, s.begin():
            _submission(s, user, sub_id)
            try:
                withdraw_submission(s, sub_id, reason=reason, by=user.username, at=clock.to_utc(clock.now()))
            except UsageError as exc:
                raise PortalError(409, "Lần gửi này đã được rút trước đó." if "already" in str(exc) else
                                  "Chỉ rút được lần gửi đã được nhận; lần gửi bị từ chối không đưa dữ liệu nào "
                                  "vào.") from None
            # the reason is the clerk's own words: kept with the submission, not in the audit log
            portal.record(request, user, "withdraw", session=s, target_type="submission", target_id=sub_id)

    await run_in_threadpool(take_back)
    return RedirectResponse(f"/nop/{sub_id}?notice=withdrawn", status_code=303)


@router.post("/nop/{sub_id}/doc-lai")
async def read_again(request: Request, portal: PortalDep, user: UserDep,
                     form: Annotated[Any, Depends(csrf_form(max_files=0, max_fields=1000))], sub_id: DbId) -> Response:
    """The clerk corrects how columns were read ("cột này là ..."): the readings are saved for the
    district and kind (by the signed-in user), and the same stored file is queued to be taken in again."""
    from campaign.files import StoredOriginal, relative_path
    from campaign.intake.columns import check_field, save_mappings

    def save_and_queue() -> int:
        with portal.writer() as s, s.begin():
            sub = _submission(s, user, sub_id)
            readings = sub.columns or []
            chosen: dict[str, str | None] = {}
            for i, reading in enumerate(readings):
                value = str(form.get(f"cot-{i}", "")).strip()
                if not value:
                    continue
                try:
                    chosen[str(reading["heading"])] = check_field(sub.kind, None if value == "-" else value)
                except ValueError:
                    raise PortalError(400, "Loại dữ liệu này không có cột đã chọn; tải lại trang và chọn lại.") from None
            if not chosen:
                raise PortalError(400, "Chưa chọn cột nào để sửa: chọn «cột này là …» ở cột cần sửa rồi gửi lại.")
            path = portal.res.settings.files_dir / relative_path(sub.checksum)
            if not path.is_file():
                raise PortalError(409, "Không còn bản gốc của tệp này trên máy chủ: xin tải tệp lên lại.")
            now = clock.to_utc(clock.now())
            save_mappings(s, sub.district_code, sub.kind, chosen, by=user.username, at=now)
            stored = StoredOriginal(sub.checksum, path.stat().st_size, path, relative_path(sub.checksum))
            job = jobs.enqueue_upload(s, user, district=sub.district_code, kind=sub.kind,
                                      facility=sub.facility_code, stored=stored,
                                      filename=sub.original_filename or f"lan-gui-{sub.id}", received_at=now)
            portal.record(request, user, "read_again", session=s, target_type="submission", target_id=sub_id,
                          details={"job": job.id, "kind": sub.kind, "columns": len(chosen)})
            return job.id

    job_id = await run_in_threadpool(save_and_queue)
    return RedirectResponse(f"/viec/{job_id}", status_code=303)
