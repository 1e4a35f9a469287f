"""Declarative models of OUR tables (TaskFlow owns logbooks/flowdetails/atomdetails).

Every change here needs a revision in ``migrations/versions``; the migration
tests compare these models with the migrated schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so a migration can drop what it created.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamp stored as UTC and always read back timezone-aware.

    SQLite has no timezone type: values are stored as naive UTC and get their
    tzinfo back on load. Naive input is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class JobRow(Base):
    """One job's history row; ``state`` holds a ``JobState`` value."""

    __tablename__ = "orchestrator_jobs"
    __table_args__ = (
        Index("ix_orchestrator_jobs_state_created_at", "state", "created_at"),
        Index("ix_orchestrator_jobs_created_at", "created_at"),
        Index("ix_orchestrator_jobs_flow_name_created_at", "flow_name", "created_at"),
        # NULLs never collide: only jobs posted with a key are unique by it.
        Index("ix_orchestrator_jobs_idempotency_key", "idempotency_key", unique=True),
        Index("ix_orchestrator_jobs_retry_of", "retry_of"),
        # Retention deletes finished jobs by age.
        Index("ix_orchestrator_jobs_finished_at", "finished_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flow_name: Mapped[str] = mapped_column(String(255), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    store: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    logbook_id: Mapped[str] = mapped_column(String(36), nullable=False)
    flow_detail_id: Mapped[str] = mapped_column(String(36), nullable=False)
    board_job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    priority: Mapped[str] = mapped_column(
        String(16), nullable=False, default="NORMAL", server_default=text("'NORMAL'")
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The declarative flow document of a job posted with one, not by name.
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The fencing token: every claim's own UPDATE increments it, and every write
    # made for a claimed job requires the value its claim returned.
    claim_epoch: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    # No conductor claims the job before this time (backoff between attempts).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Consecutive attempts whose conductor was lost without reporting back.
    lost_streak: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    # Who or what asked for the cancellation (a user, "api", a schedule...).
    cancel_requested_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The job this one retries (posted again with the same flow and store).
    retry_of: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Its concurrency keys (a list, or NULL for none), also in JobKeyRow.
    concurrency_keys: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class AttemptRow(Base):
    """One attempt at a job: the claim that started it, and how it ended.

    ``number`` is the job's ``attempts`` count that the claim set. A row
    without ``ended_at`` is the attempt running now, or one whose conductor
    was lost and not yet noticed.
    """

    __tablename__ = "orchestrator_attempts"

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("orchestrator_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    conductor: Mapped[str] = mapped_column(String(255), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # An ``AttemptOutcome`` value; NULL while the attempt runs.
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The job's state when the attempt ended (SUCCESS, SUSPENDED, POSTED...).
    job_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The last step the attempt started (the one it was in, if it was cut short).
    step: Mapped[str | None] = mapped_column(String(255), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class JobPassRow(Base):
    """A conductor that left a job to others, and why (it lacks the flow...)."""

    __tablename__ = "orchestrator_job_passes"

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("orchestrator_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    conductor: Mapped[str] = mapped_column(String(255), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    passed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class JobKeyRow(Base):
    """A concurrency key a job carries (posted with it, never changed)."""

    __tablename__ = "orchestrator_job_keys"
    __table_args__ = (Index("ix_orchestrator_job_keys_key", "key"),)

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("orchestrator_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)


class KeyHoldRow(Base):
    """One slot of a concurrency key, held by a running job.

    The primary key is the limit's guard: a key limited to N jobs has slots
    0..N-1, and two claims can never insert the same slot.
    """

    __tablename__ = "orchestrator_key_holds"
    __table_args__ = (Index("ix_orchestrator_key_holds_job_id", "job_id"),)

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("orchestrator_jobs.id", ondelete="CASCADE"), nullable=False
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The key's limit when it was taken, so that a reader can tell a full key.
    key_limit: Mapped[int] = mapped_column(Integer, nullable=False)


class ScheduleRow(Base):
    """A schedule: a flow and store posted at each fire time of a cron expression."""

    __tablename__ = "orchestrator_schedules"
    __table_args__ = (
        UniqueConstraint("name", name="uq_orchestrator_schedules_name"),
        Index("ix_orchestrator_schedules_next_fire_at", "next_fire_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    flow_name: Mapped[str] = mapped_column(String(255), nullable=False)
    store: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    priority: Mapped[str] = mapped_column(String(16), nullable=False)
    cron: Mapped[str] = mapped_column(String(255), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    # 'skip' or 'run_once': what becomes of fire times missed by every scheduler.
    missed: Mapped[str] = mapped_column(String(16), nullable=False)
    paused: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The next fire time not handled yet; advanced only from its old value.
    next_fire_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


class ScheduleFireRow(Base):
    """A fire time of a schedule, handled: posted, skipped, or failed (one row each)."""

    __tablename__ = "orchestrator_schedule_fires"

    schedule_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("orchestrator_schedules.id", ondelete="CASCADE",
                               name="fk_orchestrator_schedule_fires_schedule_id"),
        primary_key=True)
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    # No foreign key: retention may delete the job; the fire stays in the history.
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


metadata = Base.metadata

# The tables our alembic migrations own; everything else in the database
# (TaskFlow's tables and its alembic_version) is left alone.
OWNED_TABLES: frozenset[str] = frozenset(metadata.tables)
