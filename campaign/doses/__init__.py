"""Doses linked to people (issue 20.1): the results (`vaccinations`, vaccinated = yes) and the people
vaccinated but never recorded (`backfill`) linked to master-list persons, each person's dose history
(with the target list's own dose columns), its conflicts, and what it means for the master list
(eligibility, next dose, the date and product the next dose counts from).

- `rules.py`: pure: dose rows, identity numbers, linking decisions, history, conflicts, the course of
  each person, the figures per district and per (facility, product, lot, day);
- `fuzzy.py`: the master list's own Splink model scoring dose rows against the list's records;
- `store.py`: reads and records (links, history, conflicts; the master list's persons updated);
- `present.py`: the words (Vietnamese) and the JSON;
- `run.py`: the step a Prefect task calls.
"""
