"""Record linkage for the province's master target list (issue 5).

- `records`: the comparison view of target-list rows (pure): folded names, reliable identifiers, dates
  that count as evidence, fingerprints that survive a re-upload.
- `model`: the probabilistic model (Splink on DuckDB): settings, unsupervised training, scoring pairs.
- `clusters`: rules outside the model, decisions of reviewers, constrained clustering, statuses (pure).
- `eligibility`: who may be invited, with which priority and in which order (pure).
"""
