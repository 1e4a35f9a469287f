"""Concurrency keys: the keys each job carries, and the slots running jobs hold.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

``orchestrator_job_keys`` lists each job's keys (a job waiting for a key is
found by it); ``orchestrator_key_holds`` has one row per slot of a key held
by a running job. Its primary key (key, slot) is what keeps a key with a
limit of N to N running jobs, whatever the number of conductors claiming at
once: a second claimer of a slot finds the row there.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orchestrator_jobs") as batch:
        batch.add_column(sa.Column("concurrency_keys", sa.JSON(), nullable=True))
    op.create_table(
        "orchestrator_job_keys",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["orchestrator_jobs.id"], ondelete="CASCADE",
                                name="fk_orchestrator_job_keys_job_id_orchestrator_jobs"),
        sa.PrimaryKeyConstraint("job_id", "key", name="pk_orchestrator_job_keys"),
    )
    op.create_index("ix_orchestrator_job_keys_key", "orchestrator_job_keys", ["key"])
    op.create_table(
        "orchestrator_key_holds",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_limit", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["orchestrator_jobs.id"], ondelete="CASCADE",
                                name="fk_orchestrator_key_holds_job_id_orchestrator_jobs"),
        sa.PrimaryKeyConstraint("key", "slot", name="pk_orchestrator_key_holds"),
    )
    op.create_index("ix_orchestrator_key_holds_job_id", "orchestrator_key_holds",
                    ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_orchestrator_key_holds_job_id", table_name="orchestrator_key_holds")
    op.drop_table("orchestrator_key_holds")
    op.drop_index("ix_orchestrator_job_keys_key", table_name="orchestrator_job_keys")
    op.drop_table("orchestrator_job_keys")
    # Dropping a column rebuilds the table on SQLite, which its views forbid
    # (0005's docstring): they go, and come back as 0005 made them.
    views = importlib.import_module("migrations.versions.0005_history_views")
    for name in views.VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    with op.batch_alter_table("orchestrator_jobs") as batch:
        batch.drop_column("concurrency_keys")
    for statement in views.statements(op.get_bind().dialect.name):
        op.execute(statement)
