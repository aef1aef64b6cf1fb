"""Session planning (issue 6): who is vaccinated where, when, by which team, from which vial.

- `rules` (pure: frames in, frames out) plans the sessions; beside it `rules_teams` (where and by whom:
  facilities, duty rosters, the session calendar), `rules_stock` (lots in whole vials, appointment slots)
  and `rules_figures` (a plan's summary and quality figures);
- `store` reads a plan's inputs from the database, records and publishes plans, reads a recorded plan back;
- `present` shows a plan as JSON and text (labels via `campaign.vocabulary`);
- `invitations` writes the printable invitation workbooks (one per facility, a sheet per session);
- `run` is the step the `plan_sessions` flow's tasks call: plan and record; write the invitation lists.
"""
