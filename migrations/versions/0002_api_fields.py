"""Job fields the HTTP API needs: priority, idempotency key, cancel request, document.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot drop columns in place, and the downgrade must.
    with op.batch_alter_table("orchestrator_jobs") as batch:
        batch.add_column(sa.Column("priority", sa.String(16), nullable=False,
                                   server_default=sa.text("'NORMAL'")))
        batch.add_column(sa.Column("idempotency_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("cancel_requested_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("document", sa.JSON(), nullable=True))
        batch.create_index("ix_orchestrator_jobs_idempotency_key", ["idempotency_key"],
                           unique=True)


def downgrade() -> None:
    with op.batch_alter_table("orchestrator_jobs") as batch:
        batch.drop_index("ix_orchestrator_jobs_idempotency_key")
        batch.drop_column("document")
        batch.drop_column("cancel_requested_at")
        batch.drop_column("idempotency_key")
        batch.drop_column("priority")
