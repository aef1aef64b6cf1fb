"""Deadlines: what each party owes by when, the escalation steps due, and the messages sent about them
exactly once (the deadline watch). Nothing is re-exported here; import from the parts:

- `rules`: pure: the deliverables of a campaign (with extensions), their state at a moment, working time,
  the escalation steps due or to come, their recipients, when a deliverable was complete.
- `store`: database reads: first accepted submissions, readiness reached, reports sent, extensions,
  facility parties, escalations written and their messages.
- `present`: the board as JSON, the titles and texts of the messages, party names, portal pages.
- `outbox`: the exactly-once outbox: escalations written once; messages claimed (with a lease), sent,
  settled, retried.
- `notify`: the mail transport (SMTP e-mail and JSON webhook, each send under an overall deadline).
- `extension`: moving a deadline for a party (the checks, and the recorded decision).
- `run`: the watch's steps a Prefect task calls: `board`, `escalate`, `escalate_now`.
"""
