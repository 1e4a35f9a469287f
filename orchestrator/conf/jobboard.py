from __future__ import annotations

from oslo_config import cfg

GROUP = "jobboard"

OPTS = [
    cfg.ListOpt(
        "hosts",
        default=["127.0.0.1:2181"],
        help="ZooKeeper ensemble members as host:port. Every conductor, poster "
        "and API server of one deployment must name the same ensemble.",
    ),
    cfg.StrOpt(
        "path",
        default="/orchestrator/jobs",
        help="Absolute znode path of the jobboard. Trashed jobs and live "
        "conductors are kept beside it (.trash, .entities).",
    ),
    cfg.FloatOpt(
        "session_timeout",
        default=10.0,
        min=1.0,
        help="ZooKeeper session timeout in seconds. A conductor that dies "
        "releases its jobs this long after its last heartbeat; the server "
        "clamps it to [2, 20] x its tickTime.",
    ),
    cfg.FloatOpt(
        "connect_timeout",
        default=10.0,
        min=0.1,
        help="Seconds to wait for the first ZooKeeper connection before "
        "giving up with an error.",
    ),
    cfg.StrOpt(
        "username",
        help="User name for ZooKeeper digest authentication (with password).",
    ),
    cfg.StrOpt(
        "password",
        secret=True,
        help="Password for ZooKeeper digest authentication.",
    ),
    cfg.BoolOpt(
        "use_ssl",
        default=False,
        help="Connect to ZooKeeper over TLS (the server needs a secure client port).",
    ),
    cfg.StrOpt("ca_file", help="CA bundle that signed the ZooKeeper server certificate."),
    cfg.StrOpt("cert_file", help="Client certificate for TLS client authentication."),
    cfg.StrOpt("key_file", help="Private key of the client certificate."),
    cfg.StrOpt(
        "key_password", secret=True, help="Password of the client private key."
    ),
    cfg.BoolOpt(
        "verify_certs",
        default=True,
        help="Verify the ZooKeeper server certificate. Turn off only in tests.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
