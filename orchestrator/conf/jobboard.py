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
        default=2.0,
        min=0.5,
        help="ZooKeeper session timeout in seconds: how long after a conductor "
        "dies (kill -9, host failure) its jobs are taken over by another, plus "
        "a fraction of a second (the release is seen through a watch, not a "
        "poll). The trade-off: a conductor whose process or network stalls "
        "longer than this (a long GC pause, a frozen VM, a lost link) loses "
        "its jobs to another conductor. That is safe, because every write of "
        "a claimed job is fenced in the database and a conductor starts no "
        "task while its session is suspended, but the step that was running "
        "then runs again. Raise it where stalls are common and a slower "
        "takeover is acceptable. The server clamps the value to its "
        "[minSessionTimeout, maxSessionTimeout], by default [2, 20] x its "
        "tickTime: with ZooKeeper's usual tickTime=2000 a 2 s session needs "
        "minSessionTimeout=2000 (or tickTime=1000) in zoo.cfg, or the server "
        "silently raises it to 4 s. Standalone mode's own server allows it.",
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
    cfg.FloatOpt(
        "trash_retention",
        default=7 * 24 * 3600.0,
        min=0.0,
        help="Seconds a posting moved to the jobboard's .trash (a job no "
        "conductor may run) is kept for inspection before conductors delete "
        "it; 0 keeps trashed postings for ever. Ages are told by the "
        "conductor's clock against ZooKeeper's creation time of the node.",
    ),
    cfg.IntOpt(
        "trash_max_entries",
        default=10000,
        min=0,
        help="Most trashed postings kept; conductors delete the oldest beyond "
        "it; 0 sets no limit. A directory listing should fit ZooKeeper's "
        "jute.maxbuffer (1 MB by default, some 60,000 trashed postings), or "
        "clients bound by it, ZooKeeper's own tools among them, cannot list it.",
    ),
    cfg.FloatOpt(
        "trash_prune_interval",
        default=600.0,
        min=1.0,
        help="Seconds between two prunings of the trash by one conductor (a "
        "listing, a look at each newly trashed posting and the deletes). "
        "Several conductors may prune at once safely.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
