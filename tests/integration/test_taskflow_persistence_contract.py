"""TaskFlow's own persistence contract, run against both of our TaskFlow backends.

TaskFlow's engines rely on what its ``PersistenceTestMixin`` checks; each of
TaskFlow's backends runs it, and so do ours: the unfenced cached backend and
the ``FencedConnection`` of a claim holding the current epoch of a real job
row, each on a SQLite file and on PostgreSQL. The mixin comes from the
installed TaskFlow, so a TaskFlow upgrade that changes the contract (a new
test, a changed expectation) fails here; so does a changed method signature.

``taskflow.test`` is not imported: it needs testtools and oslotest, which are
not installed. The mixin only needs ``unittest.TestCase``'s assertions.
"""

from __future__ import annotations

import inspect
import unittest
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from taskflow.persistence import base as tf_base
from taskflow.persistence.backends.impl_sqlalchemy import Connection as TaskflowConnection
from taskflow.tests.unit.persistence.base import PersistenceTestMixin

import persistence
from persistence.models import JobRow
from tests.services import LocalPostgres

pytestmark = pytest.mark.integration

_JOBS = JobRow.__table__


def add_job_row(database: persistence.Database) -> persistence.Fence:
    """A job row claimed once (epoch 1), and the fence of that claim."""
    job_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with database.session() as session:
        session.execute(sa.insert(_JOBS).values(
            id=job_id, flow_name="contract", state="RUNNING", store={},
            created_at=now, updated_at=now, logbook_id=str(uuid.uuid4()),
            flow_detail_id=str(uuid.uuid4())))
    return persistence.Fence(job_id, bump_epoch(database, job_id))


def bump_epoch(database: persistence.Database, job_id: str) -> int:
    """What a claim does to the fencing token (the real claim lives in ``jobs``)."""
    with database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE orchestrator_jobs SET claim_epoch = claim_epoch + 1 "
                             "WHERE id = :id"), {"id": job_id})
        epoch: int = conn.execute(sa.text("SELECT claim_epoch FROM orchestrator_jobs "
                                          "WHERE id = :id"), {"id": job_id}).scalar_one()
    return epoch


# One database per class: TaskFlow's PostgreSQL migrations take a while, and
# the harness empties the tables after each test as TaskFlow's own tests do.

@pytest.fixture(scope="class")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[persistence.Database]:
    path = tmp_path_factory.mktemp("contract") / "taskflow.sqlite"
    database = persistence.Database(f"sqlite:///{path}")
    database.upgrade()
    yield database
    database.close()


@pytest.fixture(scope="class")
def postgres_database(postgres_server: LocalPostgres) -> Iterator[persistence.Database]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    database = persistence.Database(postgres_server.url_for(name))
    try:
        database.upgrade()
        yield database
    finally:
        database.close()
        postgres_server.drop_database(name)


class _Harness:
    """Hands the mixin a connection of the backend under test, on one database."""

    database_fixture: ClassVar[str]
    fenced: ClassVar[bool]
    connection: Any

    @pytest.fixture(autouse=True)
    def _backend(self, request: pytest.FixtureRequest) -> Iterator[None]:
        database: persistence.Database = request.getfixturevalue(self.database_fixture)
        if self.fenced:
            backend = database.taskflow_backend(add_job_row(database))
            assert isinstance(backend.get_connection(), persistence.FencedConnection)
        else:
            backend = database.taskflow_backend()
        self.connection = backend.get_connection()
        yield
        database.taskflow_backend().get_connection().clear_all()

    def _get_connection(self) -> Any:
        return self.connection


class TestFencedOnSqlite(_Harness, PersistenceTestMixin, unittest.TestCase):
    database_fixture = "sqlite_database"
    fenced = True


class TestFencedOnPostgres(_Harness, PersistenceTestMixin, unittest.TestCase):
    database_fixture = "postgres_database"
    fenced = True


class TestUnfencedOnSqlite(_Harness, PersistenceTestMixin, unittest.TestCase):
    database_fixture = "sqlite_database"
    fenced = False


class TestUnfencedOnPostgres(_Harness, PersistenceTestMixin, unittest.TestCase):
    database_fixture = "postgres_database"
    fenced = False


def _public_api(cls: type) -> dict[str, Any]:
    return {name: inspect.getattr_static(cls, name) for name in dir(cls)
            if not name.startswith("_")}


def test_the_fenced_connection_has_taskflows_connection_api() -> None:
    """Same methods, parameters and defaults as TaskFlow's SQLAlchemy ``Connection``."""
    theirs = _public_api(TaskflowConnection)
    ours = _public_api(persistence.FencedConnection)
    assert tf_base.Connection in persistence.FencedConnection.__mro__
    for name, attribute in theirs.items():
        assert name in ours, f"FencedConnection lacks TaskFlow's {name}"
        if isinstance(attribute, property):
            assert isinstance(ours[name], property), name
        elif callable(attribute):
            expected = [(p.name, p.kind, p.default)
                        for p in inspect.signature(attribute).parameters.values()]
            actual = [(p.name, p.kind, p.default)
                      for p in inspect.signature(ours[name]).parameters.values()]
            assert actual == expected, f"{name}: {actual} != TaskFlow's {expected}"
