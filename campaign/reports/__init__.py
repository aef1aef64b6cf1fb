"""The campaign plan and readiness report (issue 8): content from the database, rendered as DOCX, PDF and
HTML; approved, then submitted by e-mail.

- `store`: what a report reads (`load_data`, once for the whole province) and the records of the reports
  (versions built, approved, submitted);
- `rules`: pure, what a report says (`build_report`: sections, tables, charts and key figures from the
  loaded frames) and when a version may be approved or submitted (`refusal`);
- `present`: numbers and dates as Vietnamese documents write them, labels, recipients, the e-mail;
- `run`: the steps the Prefect tasks call: `compile_reports`, `approve`, `submit_report` (the one path a
  report goes upward by, for the CLI's flow and the portal alike);
- `model` (a report independent of its format) and its renderers `render_docx`, `render_pdf`,
  `render_html` (with `charts` and `templates/`).
"""
