"""first registry schema

Revision ID: 0001
Revises: (none, first version)
Create Date: 2026-12-04 14:36:24.374090
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _audit_and_accounts() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_row_id"), ["row_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entry_table_name"), ["table_name"], unique=False)

    op.create_table(
        "patient",
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_patient_pseudonym")),
    )
    op.create_table(
        "user_account",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "eligibility",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("hospitalised", sa.Boolean(), nullable=True),
        sa.Column("acuity_confirmed", sa.Boolean(), nullable=True),
        sa.Column("pain_worsening", sa.Boolean(), nullable=True),
        sa.Column("pain_caused_by_fracture", sa.Boolean(), nullable=True),
        sa.Column("kyphotic_deformity", sa.Boolean(), nullable=True),
        sa.Column("nsm_description", sa.Text(), nullable=True),
        sa.Column("nsm_weeks", sa.Float(), nullable=True),
        sa.Column("infection", sa.Boolean(), nullable=True),
        sa.Column("pregnancy", sa.Boolean(), nullable=True),
        sa.Column("coagulopathy", sa.Boolean(), nullable=True),
        sa.Column("cement_or_contrast_allergy", sa.Boolean(), nullable=True),
        sa.Column("instability_or_neuro_deficit", sa.Boolean(), nullable=True),
        sa.Column("malignant", sa.Boolean(), nullable=True),
        sa.Column("oncologic_confirmation", sa.Boolean(), nullable=True),
        sa.Column("bmd_referral", sa.Boolean(), nullable=True),
        sa.Column("osteoporosis_education", sa.Boolean(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_eligibility_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_eligibility_patient_id")),
    )


def _patient_tables() -> None:
    op.create_table(
        "follow_up_visit",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("timepoint", sa.String(length=16), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=True),
        sa.Column("new_fracture", sa.Boolean(), nullable=True),
        sa.Column("new_fracture_levels", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_follow_up_visit_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_visit")),
    )
    with op.batch_alter_table("follow_up_visit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_follow_up_visit_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "uq_visit_patient_timepoint_live",
            ["patient_id", "timepoint"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "patient_identity",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("record_number", sa.String(length=64), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_identity_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_identity")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_patient_identity_patient_id")),
    )


def _study_tables() -> None:
    op.create_table(
        "study",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("folder", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("results", sa.JSON(), nullable=True),
        sa.Column("schema_version", sa.String(length=16), nullable=True),
        sa.Column("worst_grade", sa.Integer(), nullable=True),
        sa.Column("fracture_count", sa.Integer(), nullable=True),
        sa.Column("fractured_levels", sa.String(length=200), nullable=True),
        sa.Column("cobb_deg", sa.Float(), nullable=True),
        sa.Column("reference_hu", sa.Float(), nullable=True),
        sa.Column("density_class", sa.String(length=24), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_study_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study")),
    )
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_study_density_class"), ["density_class"], unique=False)
        batch_op.create_index(batch_op.f("ix_study_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_study_worst_grade"), ["worst_grade"], unique=False)

    op.create_table(
        "instrument_response",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=24), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("invalid_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["follow_up_visit.id"],
            name=op.f("fk_instrument_response_visit_id_follow_up_visit"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_response")),
    )
    with op.batch_alter_table("instrument_response", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_instrument_response_visit_id"), ["visit_id"], unique=False
        )
        batch_op.create_index(
            "uq_response_visit_instrument_live",
            ["visit_id", "instrument"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )


def _procedure_and_plan() -> None:
    op.create_table(
        "planned_level",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("recommendation", sa.String(length=32), nullable=True),
        sa.Column("balloon_device", sa.String(length=64), nullable=True),
        sa.Column("inflation_ml", sa.Float(), nullable=True),
        sa.Column("cement_ml", sa.Float(), nullable=True),
        sa.Column("leakage_category", sa.String(length=16), nullable=True),
        sa.Column("procedure_minutes", sa.Float(), nullable=True),
        sa.Column("anaesthesia", sa.String(length=64), nullable=True),
        sa.Column("expected_stay", sa.String(length=64), nullable=True),
        sa.Column("treat", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_planned_level_study_id_study")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planned_level")),
    )
    with op.batch_alter_table("planned_level", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_planned_level_study_id"), ["study_id"], unique=False)

    op.create_table(
        "procedure",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=True),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("levels", sa.String(length=200), nullable=False),
        sa.Column("approach", sa.String(length=24), nullable=False),
        sa.Column("balloon_volumes_ml", sa.JSON(), nullable=True),
        sa.Column("balloon_pressures_atm", sa.JSON(), nullable=True),
        sa.Column("cement_volume_ml", sa.Float(), nullable=True),
        sa.Column("cement_type", sa.String(length=32), nullable=True),
        sa.Column("leakage", sa.Boolean(), nullable=False),
        sa.Column("leakage_types", sa.String(length=32), nullable=True),
        sa.Column("complications", sa.Text(), nullable=True),
        sa.Column("anaesthesia", sa.String(length=24), nullable=True),
        sa.Column("duration_min", sa.Float(), nullable=True),
        sa.Column("overnight_stay", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_procedure_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_procedure_study_id_study")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure")),
    )
    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedure_patient_id"), ["patient_id"], unique=False)


def _findings() -> None:
    op.create_table(
        "vertebra_finding",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("label", sa.Integer(), nullable=True),
        sa.Column("measurable", sa.Boolean(), nullable=False),
        sa.Column("genant_grade", sa.Integer(), nullable=True),
        sa.Column("morphotype", sa.String(length=16), nullable=True),
        sa.Column("height_anterior_mm", sa.Float(), nullable=True),
        sa.Column("height_middle_mm", sa.Float(), nullable=True),
        sa.Column("height_posterior_mm", sa.Float(), nullable=True),
        sa.Column("max_height_loss_pct", sa.Float(), nullable=True),
        sa.Column("trabecular_hu", sa.Float(), nullable=True),
        sa.Column("bmd_mg_cm3", sa.Float(), nullable=True),
        sa.Column("density_class", sa.String(length=24), nullable=True),
        sa.Column("corrected_level", sa.String(length=8), nullable=True),
        sa.Column("grade_override", sa.Integer(), nullable=True),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_vertebra_finding_study_id_study")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vertebra_finding")),
    )
    with op.batch_alter_table("vertebra_finding", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vertebra_finding_study_id"), ["study_id"], unique=False
        )


def upgrade() -> None:
    """Create every table of the first registry schema (generated by Alembic, split
    into groups so each function stays short)."""
    _audit_and_accounts()
    _patient_tables()
    _study_tables()
    _procedure_and_plan()
    _findings()


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("vertebra_finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vertebra_finding_study_id"))

    op.drop_table("vertebra_finding")
    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_patient_id"))

    op.drop_table("procedure")
    with op.batch_alter_table("planned_level", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planned_level_study_id"))

    op.drop_table("planned_level")
    with op.batch_alter_table("instrument_response", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_response_visit_instrument_live",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_instrument_response_visit_id"))

    op.drop_table("instrument_response")
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_study_worst_grade"))
        batch_op.drop_index(batch_op.f("ix_study_patient_id"))
        batch_op.drop_index(batch_op.f("ix_study_density_class"))

    op.drop_table("study")
    op.drop_table("patient_identity")
    with op.batch_alter_table("follow_up_visit", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_visit_patient_timepoint_live",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_follow_up_visit_patient_id"))

    op.drop_table("follow_up_visit")
    op.drop_table("eligibility")
    op.drop_table("user_account")
    op.drop_table("patient")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_table_name"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_row_id"))

    op.drop_table("audit_entry")
    # ### end Alembic commands ###
