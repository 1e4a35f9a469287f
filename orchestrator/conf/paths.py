from __future__ import annotations

from oslo_config import cfg

GROUP = None

OPTS = [
    cfg.StrOpt(
        "state_path",
        default="~/.local/state/orchestrator",
        help="Directory holding local state: the default SQLite database and, "
        "in standalone mode, ZooKeeper's data and the service logs.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS)
