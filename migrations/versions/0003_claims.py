"""Fenced claims, backoff, lost attempts, and the conductors that passed a job over.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orchestrator_jobs") as batch:
        batch.add_column(sa.Column("claim_epoch", sa.Integer(), nullable=False,
                                   server_default=sa.text("0")))
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lost_streak", sa.Integer(), nullable=False,
                                   server_default=sa.text("0")))
    op.create_table(
        "orchestrator_job_passes",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("conductor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["orchestrator_jobs.id"], ondelete="CASCADE",
                                name="fk_orchestrator_job_passes_job_id_orchestrator_jobs"),
        sa.PrimaryKeyConstraint("job_id", "conductor", name="pk_orchestrator_job_passes"),
    )


def downgrade() -> None:
    op.drop_table("orchestrator_job_passes")
    with op.batch_alter_table("orchestrator_jobs") as batch:
        batch.drop_column("lost_streak")
        batch.drop_column("not_before")
        batch.drop_column("claim_epoch")
