"""Attempts, who cancelled, retries, and the index retention deletes by.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orchestrator_jobs") as batch:
        batch.add_column(sa.Column("cancel_requested_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("retry_of", sa.String(36), nullable=True))
        batch.create_index("ix_orchestrator_jobs_retry_of", ["retry_of"])
        batch.create_index("ix_orchestrator_jobs_finished_at", ["finished_at"])
    op.create_table(
        "orchestrator_attempts",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("conductor", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("job_state", sa.String(16), nullable=True),
        sa.Column("step", sa.String(255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["orchestrator_jobs.id"], ondelete="CASCADE",
                                name="fk_orchestrator_attempts_job_id_orchestrator_jobs"),
        sa.PrimaryKeyConstraint("job_id", "number", name="pk_orchestrator_attempts"),
    )


def downgrade() -> None:
    op.drop_table("orchestrator_attempts")
    with op.batch_alter_table("orchestrator_jobs") as batch:
        batch.drop_index("ix_orchestrator_jobs_finished_at")
        batch.drop_index("ix_orchestrator_jobs_retry_of")
        batch.drop_column("retry_of")
        batch.drop_column("cancel_requested_by")
