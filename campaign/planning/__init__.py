"""Session planning (issue 6): `core` holds the pure planner; the database side lives beside it."""
