"""Flow `alert_coordinators`: an e-mail (and webhook) to the DoH coordinators, run by the automations of
`flows/automations.yaml` when the deadline watch has gone silent or a campaign flow run failed (Prefect
has no SMTP notification block; an automation can run a deployment)."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from campaign.deadlines.notify import Notifier
from campaign.resources import get_resources
from flows.hooks import note_flow_run
from flows.names import alert_name, run_name


@task(name="send-alert", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[30, 120, 600])
def send_alert(subject: str, body: str) -> int:
    res = get_resources()
    office = res.campaign.parties["doh"].contacts["office"]
    send = Notifier.from_settings(res.settings)
    sent = 0
    if office.email:
        send("email", office.email, subject, body, {"step": "alert", "text": body})
        sent += 1
    if office.webhook:
        send("webhook", office.webhook, subject, body, {"step": "alert", "text": body})
        sent += 1
    return sent


@flow(name="alert_coordinators", flow_run_name=run_name(alert_name, "alert-coordinators"), log_prints=False, on_running=[note_flow_run])
def alert_coordinators_flow(reason: str = "Hệ thống điều phối cần được kiểm tra.") -> int:
    return send_alert(f"[Cảnh báo hệ thống] {reason}",
                      f"{reason}\nMở giao diện Prefect để xem các lần chạy (Flow runs) gần nhất.")
