"""`POST /internal/flows/<name>`: a command of this machine hands its flow run to the portal's warm process
(campaign.handover). Loopback callers with the token of `<CAMPAIGN_HOME>/run/flow-runner.json` only; the
answer is the flow's own (flows.handover). Not a page: no session, no CSRF cookie, nothing for a browser
(the token never leaves the owner-only file)."""

from __future__ import annotations

import hmac
import ipaddress
import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from campaign.handover import TOKEN_HEADER

router = APIRouter()


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.post("/internal/flows/{name}")
async def run_flow(name: str, request: Request) -> Response:
    from flows import handover

    expected = getattr(request.app.state, "handover_token", None)
    given = request.headers.get(TOKEN_HEADER, "")
    if not expected or not _loopback(request) or not hmac.compare_digest(given.encode(), expected.encode()):
        return JSONResponse({"error": "forbidden"}, status_code=403)
    if name not in handover.FLOWS:
        return JSONResponse({"error": f"no flow {name!r} to hand over"}, status_code=404)
    try:
        params = json.loads(await request.body() or b"{}")
    except ValueError:
        return JSONResponse({"error": "parameters are not JSON"}, status_code=400)
    try:
        answer = await run_in_threadpool(handover.run, name, params)
    except Exception as exc:  # noqa: BLE001 - the command says it as if it had run the flow itself
        return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=500)
    return JSONResponse(json.loads(json.dumps(answer, default=str, ensure_ascii=False)))
