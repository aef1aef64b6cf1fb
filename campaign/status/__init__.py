"""`campaign status`: where the province stands as of a moment, on one screen. Every figure is read from the
function the other command or board shows it with (count once): the deadlines' board
(`campaign.deadlines.run.board`), readiness (`campaign.readiness.run.assess_current` and its `present.to_json`),
the master list's review (`campaign.master_list.review.pairs_to_review`), the reports' latest versions
(`campaign.reports.store.latest_states`), the outbox as the board lists it. Read-only: no flow, no record."""
