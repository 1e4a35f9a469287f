"""Schedules: cron expressions that post jobs, and each schedule's fires.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

``orchestrator_schedules`` holds one row per schedule; ``next_fire_at`` is
the next fire time no scheduler has handled yet (UTC), advanced by an UPDATE
conditional on its old value, so that of two schedulers handling the same
fire only one moves it on. ``orchestrator_schedule_fires`` records each fire
time handled: its primary key (schedule_id, fire_at) keeps it to one row.
A fire's ``job_id`` has no foreign key: retention may delete the job, and
the fire stays in the schedule's history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orchestrator_schedules",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("flow_name", sa.String(255), nullable=False),
        sa.Column("store", sa.JSON(), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("missed", sa.String(16), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_orchestrator_schedules"),
        sa.UniqueConstraint("name", name="uq_orchestrator_schedules_name"),
    )
    op.create_index("ix_orchestrator_schedules_next_fire_at", "orchestrator_schedules",
                    ["next_fire_at"])
    op.create_table(
        "orchestrator_schedule_fires",
        sa.Column("schedule_id", sa.String(36), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["orchestrator_schedules.id"], ondelete="CASCADE",
            # The naming convention's name is over PostgreSQL's 63 characters.
            name="fk_orchestrator_schedule_fires_schedule_id"),
        sa.PrimaryKeyConstraint("schedule_id", "fire_at",
                                name="pk_orchestrator_schedule_fires"),
    )


def downgrade() -> None:
    op.drop_table("orchestrator_schedule_fires")
    op.drop_index("ix_orchestrator_schedules_next_fire_at",
                  table_name="orchestrator_schedules")
    op.drop_table("orchestrator_schedules")
