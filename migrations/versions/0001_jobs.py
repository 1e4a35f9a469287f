"""Job history table orchestrator_jobs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orchestrator_jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("flow_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("store", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("logbook_id", sa.String(36), nullable=False),
        sa.Column("flow_detail_id", sa.String(36), nullable=False),
        sa.Column("board_job_id", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_orchestrator_jobs"),
    )
    op.create_index(
        "ix_orchestrator_jobs_state_created_at",
        "orchestrator_jobs",
        ["state", "created_at"],
    )
    op.create_index("ix_orchestrator_jobs_created_at", "orchestrator_jobs", ["created_at"])
    op.create_index(
        "ix_orchestrator_jobs_flow_name_created_at",
        "orchestrator_jobs",
        ["flow_name", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_orchestrator_jobs_flow_name_created_at", "orchestrator_jobs")
    op.drop_index("ix_orchestrator_jobs_created_at", "orchestrator_jobs")
    op.drop_index("ix_orchestrator_jobs_state_created_at", "orchestrator_jobs")
    op.drop_table("orchestrator_jobs")
