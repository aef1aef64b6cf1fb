"""Stock that reconciles (issue 20.3): `rules` (the one reconciliation and its indicators, pure), `store`
(the ledger, doses given and planned pace in force), `present` (words and JSON), `run` (the steps: CLI,
report/board summary, intake warnings, the planner's stock)."""
