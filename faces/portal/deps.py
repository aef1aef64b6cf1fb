"""The portal's dependencies (FastAPI `Depends`): the `Portal` and its resources, who is signed in, a
coordinator, a district the user may see, a form whose CSRF token matches, and the ids in paths checked to
be database ids before anything else runs (as FastAPI's own validation of the route would, but before the
route's other dependencies: an id that is no database id is "not found", never a sign-in page)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError

from campaign import accounts
from campaign.accounts import SignedIn
from campaign.resources import Resources
from faces.portal.state import COORDINATORS_ONLY, CSRF_REFUSED, MAX_ID, NOT_FOUND, Portal, PortalError

PATH_IDS = ("sub_id", "job_id", "report_id", "user_id")   # the ids in the routes' paths: INTEGER columns
_DB_ID = TypeAdapter(Annotated[int, Field(ge=1, le=MAX_ID)])


class Redirect(Exception):
    """Go elsewhere (303): raised by a dependency, e.g. to the sign-in page."""

    def __init__(self, to: str):
        super().__init__(to)
        self.to = to


def checked_path_ids(request: Request) -> None:
    """Router dependency, first of all: the ids in the path are database ids (1 .. MAX_ID), else the
    request is refused as FastAPI refuses a path it does not take (RequestValidationError: not found)."""
    for name in PATH_IDS:
        if name in request.path_params:
            try:
                _DB_ID.validate_python(request.path_params[name])
            except ValidationError as exc:
                raise RequestValidationError(exc.errors()) from None


def get_portal(request: Request) -> Portal:
    return request.app.state.portal


PortalDep = Annotated[Portal, Depends(get_portal)]


def get_resources(portal: PortalDep) -> Resources:
    return portal.res


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def signed_in(request: Request, portal: PortalDep) -> SignedIn | None:
    """Who sent the request, None if no one is signed in."""
    return portal.signed_in(request)


def need_user(request: Request, portal: PortalDep) -> SignedIn:
    user = portal.signed_in(request)
    if user is None:
        raise Redirect("/dang-nhap")
    return user


MaybeUserDep = Annotated[SignedIn | None, Depends(signed_in)]
UserDep = Annotated[SignedIn, Depends(need_user)]


def need_coordinator(user: UserDep) -> SignedIn:
    if not user.is_coordinator:
        raise PortalError(403, COORDINATORS_ONLY, denied={"reason": "coordinators_page"})
    return user


CoordinatorDep = Annotated[SignedIn, Depends(need_coordinator)]


def own_district(code: str, user: UserDep, res: ResourcesDep) -> str:
    """The district in the path, one the user may see (another district's: not found, recorded)."""
    if code not in res.campaign.district_codes:
        raise PortalError(404, NOT_FOUND)
    if not user.may_see(code):
        raise PortalError(404, NOT_FOUND, denied={"reason": "other_district", "target_type": "district",
                                                  "target_label": code})
    return code


DistrictDep = Annotated[str, Depends(own_district)]


async def read_form(request: Request, user: SignedIn, **limits: Any) -> Any:
    """The form posted, its CSRF token the session's (else refused, recorded)."""
    form = await request.form(**limits)
    if not accounts.csrf_matches(user.csrf_token, form.get("csrf_token")):
        raise PortalError(403, CSRF_REFUSED, denied={"reason": "csrf"})
    return form


def csrf_form(*, max_files: int = 0, max_fields: int = 5) -> Callable[..., Awaitable[Any]]:
    """A dependency: the form posted by the signed-in user, within these limits, its CSRF token checked."""
    async def form(request: Request, user: UserDep) -> Any:
        return await read_form(request, user, max_files=max_files, max_fields=max_fields)
    return form


Form5 = Annotated[Any, Depends(csrf_form(max_files=0, max_fields=5))]
Form10 = Annotated[Any, Depends(csrf_form(max_files=0, max_fields=10))]
