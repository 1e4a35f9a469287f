"""Indexes TaskFlow's own tables lack: a job's flow details and atom details by parent.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

TaskFlow indexes neither ``atomdetails.parent_uuid`` nor
``flowdetails.parent_uuid``, so every read of a job's tasks (``jobs show``,
the job page, loading a flow to resume it) scans every task row ever kept,
and each deleted logbook (retention) scans them again. Measured at 1 M task
rows (bench/listing.py, docs/scale.md): a job's history 204 ms -> 10 ms on
PostgreSQL, 314 ms -> 7 ms on SQLite; a purge batch of 20 jobs 5.5 s ->
17 ms. The tables are TaskFlow's, so ``IF NOT EXISTS``: a TaskFlow release
that adds its own index under these names is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {"ix_atomdetails_parent_uuid": "atomdetails",
           "ix_flowdetails_parent_uuid": "flowdetails"}


def upgrade() -> None:
    for name, table in INDEXES.items():
        op.create_index(name, table, ["parent_uuid"], if_not_exists=True)


def downgrade() -> None:
    for name, table in INDEXES.items():
        op.drop_index(name, table_name=table, if_exists=True)
