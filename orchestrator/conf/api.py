from __future__ import annotations

from oslo_config import cfg

GROUP = "api"

OPTS = [
    cfg.HostAddressOpt(
        "host",
        default="127.0.0.1",
        help="Address the HTTP API and web page listen on.",
    ),
    cfg.PortOpt(
        "port",
        default=8080,
        help="Port the HTTP API and web page listen on.",
    ),
    cfg.StrOpt(
        "auth_strategy",
        default="token",
        choices=[
            ("token", "every API request needs 'Authorization: Bearer <token>' "
             "with one of the configured tokens"),
            ("noauth", "no authentication: for standalone mode and trusted "
             "networks only"),
        ],
        help="How API requests are authenticated. Standalone mode uses noauth.",
    ),
    cfg.ListOpt(
        "tokens",
        default=[],
        secret=True,
        help="Bearer tokens the API accepts with auth_strategy = token. Several "
        "may be listed, so a token can be replaced without downtime.",
    ),
    cfg.IntOpt(
        "max_body_size",
        default=1024 * 1024,
        min=1024,
        help="Largest request body in bytes; larger ones are refused with 413.",
    ),
    cfg.IntOpt(
        "max_nesting_depth",
        # The same numbers as orchestrator.validation (a unit test keeps them so);
        # not imported from there, so that reading options stays light.
        default=64,
        min=1,
        max=200,
        help="Deepest nesting of objects and arrays accepted in a job's store or flow "
        "document (the store itself is level 1); deeper ones are refused. Applies to "
        "the API, the CLI and orchestrator.connect(). At most 200, so that every "
        "stored job can still be encoded in a response.",
    ),
    cfg.IntOpt(
        "page_size",
        default=50,
        min=1,
        max=1000,
        help="Jobs per page of a listing when the request does not say.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
