"""initial schema

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25

Generated with autogenerate against campaign.store.models, then reviewed: indexes created without
batch table copies, downgrade as plain drops in dependency order (indexes go with their tables). The
per-kind `<kind>_rows` tables are frozen here as input_kinds.yaml defined them at this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deadline_id", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=8), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("logical_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint(
            "deadline_id", "party", "step", name=op.f("uq_escalations_deadline_id_party_step")
        ),
    )
    op.create_table(
        "stored_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("original_filename", sa.String(length=512), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=True),
        sa.Column("relative_path", sa.String(length=1024), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_stored_files_size_not_negative")),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_stored_files")),
    )
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f("ck_outbox_messages_channel")),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_outbox_messages_status")),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalations.id"], name=op.f("fk_outbox_messages_escalation_id_escalations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint(
            "escalation_id",
            "channel",
            "recipient",
            name=op.f("uq_outbox_messages_escalation_id_channel_recipient"),
        ),
    )
    op.create_index("ix_outbox_messages_due", "outbox_messages", ["status", "next_attempt_at"], unique=False)
    op.create_index(
        op.f("ix_outbox_messages_escalation_id"), "outbox_messages", ["escalation_id"], unique=False
    )

    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("original_filename", sa.String(length=512), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("rows_skipped", sa.Integer(), nullable=False),
        sa.Column("rows_with_warnings", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("feedback_path", sa.String(length=1024), nullable=True),
        sa.Column("data_docs_path", sa.String(length=1024), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=128), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "NOT is_current OR status = 'accepted'", name=op.f("ck_submissions_current_is_accepted")
        ),
        sa.CheckConstraint(
            "channel IN ('cli', 'portal', 'inbox', 'demo')", name=op.f("ck_submissions_channel")
        ),
        sa.CheckConstraint("mode IN ('snapshot', 'event')", name=op.f("ck_submissions_mode")),
        sa.CheckConstraint(
            "status <> 'withdrawn' OR withdrawn_at IS NOT NULL",
            name=op.f("ck_submissions_withdrawn_has_time"),
        ),
        sa.CheckConstraint(
            "status IN ('accepted', 'rejected', 'withdrawn')", name=op.f("ck_submissions_status")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_submissions_version_positive")),
        sa.ForeignKeyConstraint(
            ["checksum"], ["stored_files.sha256"], name=op.f("fk_submissions_checksum_stored_files")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"], ["submissions.id"], name=op.f("fk_submissions_superseded_by_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "district_code",
            "kind",
            "facility_code",
            "version",
            name=op.f("uq_submissions_district_code_kind_facility_code_version"),
        ),
    )
    op.create_index(op.f("ix_submissions_checksum"), "submissions", ["checksum"], unique=False)
    op.create_index(
        "ix_submissions_current",
        "submissions",
        ["district_code", "kind", "facility_code", "is_current"],
        unique=False,
    )
    op.create_index(
        "uq_submissions_current_district_snapshot",
        "submissions",
        ["district_code", "kind"],
        unique=True,
        sqlite_where=sa.text("is_current AND mode = 'snapshot' AND facility_code IS NULL"),
        postgresql_where=sa.text("is_current AND mode = 'snapshot' AND facility_code IS NULL"),
    )
    op.create_index(
        "uq_submissions_current_facility_snapshot",
        "submissions",
        ["district_code", "kind", "facility_code"],
        unique=True,
        sqlite_where=sa.text("is_current AND mode = 'snapshot' AND facility_code IS NOT NULL"),
        postgresql_where=sa.text("is_current AND mode = 'snapshot' AND facility_code IS NOT NULL"),
    )
    op.create_index(
        "uq_submissions_district_kind_version",
        "submissions",
        ["district_code", "kind", "version"],
        unique=True,
        sqlite_where=sa.text("facility_code IS NULL"),
        postgresql_where=sa.text("facility_code IS NULL"),
    )

    op.create_table(
        "aefi_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=32), nullable=True),
        sa.Column("id_number", sa.String(length=12), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("lot", sa.String(length=50), nullable=True),
        sa.Column("dose_number", sa.Integer(), nullable=True),
        sa.Column("vaccinated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("onset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("symptoms", sa.String(length=500), nullable=True),
        sa.Column("serious", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_aefi_rows_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aefi_rows")),
    )
    op.create_index(op.f("ix_aefi_rows_submission_id"), "aefi_rows", ["submission_id"], unique=False)

    op.create_table(
        "backfill_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=32), nullable=True),
        sa.Column("id_number", sa.String(length=12), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("commune_name", sa.String(length=100), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("lot", sa.String(length=50), nullable=True),
        sa.Column("dose_number", sa.Integer(), nullable=True),
        sa.Column("vaccinated_on", sa.Date(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_backfill_rows_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_rows")),
    )
    op.create_index(op.f("ix_backfill_rows_submission_id"), "backfill_rows", ["submission_id"], unique=False)

    op.create_table(
        "communication_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("activity", sa.String(length=300), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("message", sa.String(length=32), nullable=True),
        sa.Column("activity_date", sa.Date(), nullable=True),
        sa.Column("commune_name", sa.String(length=100), nullable=True),
        sa.Column("reach", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_communication_rows_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communication_rows")),
    )
    op.create_index(
        op.f("ix_communication_rows_submission_id"), "communication_rows", ["submission_id"], unique=False
    )

    op.create_table(
        "facilities_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("facility_name", sa.String(length=200), nullable=True),
        sa.Column("facility_type", sa.String(length=32), nullable=True),
        sa.Column("commune_name", sa.String(length=100), nullable=True),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("vaccination_tables", sa.Integer(), nullable=True),
        sa.Column("person_in_charge", sa.String(length=100), nullable=True),
        sa.Column("phone_in_charge", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_facilities_rows_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilities_rows")),
    )
    op.create_index(
        op.f("ix_facilities_rows_submission_id"), "facilities_rows", ["submission_id"], unique=False
    )

    op.create_table(
        "infrastructure_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("computers_available", sa.Integer(), nullable=True),
        sa.Column("computers_needed", sa.Integer(), nullable=True),
        sa.Column("internet_available", sa.String(length=32), nullable=True),
        sa.Column("printers_available", sa.Integer(), nullable=True),
        sa.Column("printers_needed", sa.Integer(), nullable=True),
        sa.Column("qr_scanners_available", sa.Integer(), nullable=True),
        sa.Column("qr_scanners_needed", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_infrastructure_rows_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infrastructure_rows")),
    )
    op.create_index(
        op.f("ix_infrastructure_rows_submission_id"), "infrastructure_rows", ["submission_id"], unique=False
    )

    op.create_table(
        "quarantine_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("original", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_quarantine_rows_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_rows")),
    )
    op.create_index(
        op.f("ix_quarantine_rows_submission_id"), "quarantine_rows", ["submission_id"], unique=False
    )

    op.create_table(
        "row_issues",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("column", sa.String(length=64), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "severity IN ('blocking', 'row', 'warning', 'repair')", name=op.f("ck_row_issues_severity")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_row_issues_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_row_issues")),
    )
    op.create_index(op.f("ix_row_issues_submission_id"), "row_issues", ["submission_id"], unique=False)

    op.create_table(
        "staff_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("session_date", sa.Date(), nullable=True),
        sa.Column("session_part", sa.String(length=32), nullable=True),
        sa.Column("team_no", sa.Integer(), nullable=True),
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("staff_type", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("id_number", sa.String(length=12), nullable=True),
        sa.Column("updated_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_staff_rows_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_rows")),
    )
    op.create_index(op.f("ix_staff_rows_submission_id"), "staff_rows", ["submission_id"], unique=False)

    op.create_table(
        "target_list_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=32), nullable=True),
        sa.Column("priority_group", sa.Integer(), nullable=True),
        sa.Column("workplace", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("id_number", sa.String(length=12), nullable=True),
        sa.Column("insurance_number", sa.String(length=15), nullable=True),
        sa.Column("province_name", sa.String(length=100), nullable=True),
        sa.Column("province_code", sa.String(length=5), nullable=True),
        sa.Column("district_name", sa.String(length=100), nullable=True),
        sa.Column("district_code", sa.String(length=5), nullable=True),
        sa.Column("commune_name", sa.String(length=100), nullable=True),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("address_detail", sa.String(length=300), nullable=True),
        sa.Column("dose1_product", sa.String(length=32), nullable=True),
        sa.Column("dose1_date", sa.Date(), nullable=True),
        sa.Column("dose1_lot", sa.String(length=50), nullable=True),
        sa.Column("dose1_site", sa.String(length=50), nullable=True),
        sa.Column("dose2_product", sa.String(length=32), nullable=True),
        sa.Column("dose2_date", sa.Date(), nullable=True),
        sa.Column("dose2_lot", sa.String(length=50), nullable=True),
        sa.Column("dose2_site", sa.String(length=50), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_target_list_rows_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_list_rows")),
    )
    op.create_index(
        op.f("ix_target_list_rows_submission_id"), "target_list_rows", ["submission_id"], unique=False
    )

    op.create_table(
        "training_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.Column("staff_type", sa.String(length=32), nullable=True),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("role_trained", sa.String(length=32), nullable=True),
        sa.Column("training_date", sa.Date(), nullable=True),
        sa.Column("completed", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("id_number", sa.String(length=12), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_training_rows_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_rows")),
    )
    op.create_index(op.f("ix_training_rows_submission_id"), "training_rows", ["submission_id"], unique=False)

    op.create_table(
        "vaccinations_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=32), nullable=True),
        sa.Column("id_number", sa.String(length=12), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("session_date", sa.Date(), nullable=True),
        sa.Column("screening_result", sa.String(length=32), nullable=True),
        sa.Column("vaccinated", sa.String(length=32), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("lot", sa.String(length=50), nullable=True),
        sa.Column("dose_number", sa.Integer(), nullable=True),
        sa.Column("vaccinated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deferral_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_vaccinations_rows_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccinations_rows")),
    )
    op.create_index(
        op.f("ix_vaccinations_rows_submission_id"), "vaccinations_rows", ["submission_id"], unique=False
    )

    op.create_table(
        "vaccine_stock_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=3), nullable=False),
        sa.Column("sheet", sa.String(length=100), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(length=32), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("lot", sa.String(length=50), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("doses_per_vial", sa.Integer(), nullable=True),
        sa.Column("vials_received", sa.Integer(), nullable=True),
        sa.Column("vials_issued", sa.Integer(), nullable=True),
        sa.Column("vials_on_hand", sa.Integer(), nullable=True),
        sa.Column("received_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_vaccine_stock_rows_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccine_stock_rows")),
    )
    op.create_index(
        op.f("ix_vaccine_stock_rows_submission_id"), "vaccine_stock_rows", ["submission_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("vaccine_stock_rows")
    op.drop_table("vaccinations_rows")
    op.drop_table("training_rows")
    op.drop_table("target_list_rows")
    op.drop_table("staff_rows")
    op.drop_table("row_issues")
    op.drop_table("quarantine_rows")
    op.drop_table("infrastructure_rows")
    op.drop_table("facilities_rows")
    op.drop_table("communication_rows")
    op.drop_table("backfill_rows")
    op.drop_table("aefi_rows")
    op.drop_table("submissions")
    op.drop_table("outbox_messages")
    op.drop_table("stored_files")
    op.drop_table("escalations")
