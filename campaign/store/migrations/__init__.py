"""Alembic migrations of the application database; run them with campaign.store.db.migrate()."""
