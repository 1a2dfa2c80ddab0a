"""corrected versions of a study

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 17:40:00

A clinician's corrections produce a new study derived from the original (which stays
intact): the link, what was corrected, and the treated levels chosen on the original.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.add_column(sa.Column("derived_from_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("corrections", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("treated_levels", sa.String(length=200), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_study_derived_from_id"), ["derived_from_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_study_derived_from_id_study"), "study", ["derived_from_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("study", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_study_derived_from_id_study"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_study_derived_from_id"))
        batch_op.drop_column("treated_levels")
        batch_op.drop_column("corrections")
        batch_op.drop_column("derived_from_id")
