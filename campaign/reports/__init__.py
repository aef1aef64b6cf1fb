"""The campaign plan and readiness report (issue 8): content from the database, rendered as DOCX, PDF and
HTML; approved, then submitted by e-mail."""
