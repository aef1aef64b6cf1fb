"""The province's master target list (issue 5): one clean list of people from every district's list.

- `rules`: the pure parts (columns, the run's result, records prepared for linkage, vaccination records
  linked to them, person-id numbers, row statuses, figures per district, masking).
- `store`: reading the current target lists (and the encrypted cache of their prepared records), the
  decisions, person keys and linkage model; writing a run; reading the current list back (CSV, quality).
- `run`: `build`, what the Prefect task calls: read, link, give stable ids, judge eligibility, write.
- `review`: the review workflow (`open_pairs`, `decide`, `reverse`, `decisions`).
- `present`: a run as JSON and text; a record under review as one line.
- `dedupe/`: the record linkage itself (records, Splink model, clusters, eligibility, evaluation; `engines`:
  where Splink runs, DuckDB or Spark, the campaign YAML's `master_list.engine`).
- `export/`: one district's people in the national platform's subject-list import layout.

Core, no Prefect.
"""
