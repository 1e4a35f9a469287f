from __future__ import annotations

from oslo_config import cfg

GROUP = "cli"

OPTS = [
    cfg.URIOpt(
        "api_url",
        schemes=["http", "https"],
        help="The HTTP API read-only commands (jobs list, show and explain; flows; "
        "conductors; schedules list and show) read through, instead of opening the "
        "database and ZooKeeper: they then start in a fraction of the time. When the "
        "API does not answer, they read the database as if this were unset. "
        "Standalone mode sets it to its own API. Example: http://127.0.0.1:8080",
    ),
    cfg.StrOpt(
        "api_token",
        secret=True,
        help="Bearer token sent to api_url, when the API authenticates "
        "([api] auth_strategy = token).",
    ),
    cfg.FloatOpt(
        "api_timeout",
        default=5.0,
        min=0.1,
        help="Seconds to wait for api_url's answer before reading the database "
        "directly instead.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
