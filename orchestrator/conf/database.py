from __future__ import annotations

from oslo_config import cfg

GROUP = "database"

OPTS = [
    cfg.StrOpt(
        "connection",
        secret=True,
        help="SQLAlchemy URL of the database holding flow state and job "
        "history. Default: an SQLite file orchestrator.sqlite under "
        "state_path. For several hosts use PostgreSQL with an explicit "
        "driver: postgresql+psycopg://user:password@host/dbname.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
