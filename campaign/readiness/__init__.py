"""Readiness (directive II.1 and part of II.2): is every facility equipped, trained and staffed, and has
every district told the public how to register and look up a certificate?

- `status.py`: the four statuses, their roll-up and the one count of them every output shows;
- `rules.py`: the assessment, pure (frames in, frames out): `ReadinessRules`, `ReadinessInputs`, `assess`;
- `store.py`: the inputs read from the database (`load_inputs`), the runs' records and their history;
- `present.py`: the summary as JSON and text, the Prefect artifacts, the districts' names;
- `run.py`: the step the Prefect task calls (assess the current submissions, record the run).

Import from the submodules; this package exposes nothing itself.
"""
