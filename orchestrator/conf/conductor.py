from __future__ import annotations

from oslo_config import cfg, types

GROUP = "conductor"

OPTS = [
    cfg.StrOpt(
        "name",
        sample_default="<hostname>-<pid>",
        help="Name this conductor claims jobs under; shown as a job's owner. "
        "Must differ between conductors. Defaults to the host name and the "
        "process id.",
    ),
    cfg.IntOpt(
        "max_simultaneous_jobs",
        default=4,
        min=1,
        help="Jobs one conductor runs at once.",
    ),
    cfg.StrOpt(
        "engine",
        default="serial",
        choices=[
            ("serial", "run one task at a time"),
            ("parallel", "run independent tasks of a flow in threads"),
        ],
        help="TaskFlow engine that runs each job's flow.",
    ),
    cfg.IntOpt(
        "engine_workers",
        default=4,
        min=1,
        help="Threads of the parallel engine, per job.",
    ),
    cfg.FloatOpt(
        "poll_interval",
        default=0.1,
        min=0.01,
        help="Seconds the conductor waits for a change on the jobboard before "
        "looking again at jobs it deferred (backing off, waiting for a slot). "
        "New and released jobs are seen at once, through a ZooKeeper watch.",
    ),
    cfg.IntOpt(
        "max_attempts",
        default=5,
        min=1,
        help="Claims of one job before it is failed instead of handed back "
        "again: an attempt counts when the job is claimed, before it runs. A "
        "job whose attempts end in storage errors is FAILED after this many, "
        "saying the storage was unavailable; one whose last attempt lost its "
        "conductor (a task that crashes or kills its process) is quarantined: "
        "FAILED without running again, naming the conductor and the step. "
        "Stock TaskFlow retries such a job forever.",
    ),
    cfg.FloatOpt(
        "retry_delay",
        default=1.0,
        min=0.0,
        help="Seconds before a job whose attempt failed in storage may be claimed "
        "again; doubled on each further attempt, at most 60. A job whose "
        "conductor was lost is taken over at once the first time, then after "
        "this delay, doubling; after two such losses in a row it also runs "
        "alone on an idle conductor, so a job that kills its conductor cannot "
        "take other jobs down with it.",
    ),
    cfg.FloatOpt(
        "cancel_check_interval",
        default=0.5,
        min=0.0,
        help="At most this many seconds between looks at whether a running job "
        "was cancelled. A cancelled job stops at the first task boundary after "
        "a look, then reverts.",
    ),
    cfg.FloatOpt(
        "reconcile_interval",
        default=10.0,
        min=0.5,
        help="Seconds between looks for job records that say RUNNING while no "
        "conductor holds the job on the jobboard (its conductor died and no "
        "other has claimed it yet); such jobs are handed back and say why.",
    ),
    cfg.Opt(
        "concurrency_limits",
        type=types.Dict(value_type=types.Integer(min=1)),
        default={},
        help="How many jobs sharing a concurrency key may run at once, by key "
        "prefix (the part of the key before its first ':'), for example "
        "'node:1,volume:3'. Keys of other prefixes take default_concurrency_limit. "
        "Give every conductor the same limits.",
    ),
    cfg.IntOpt(
        "default_concurrency_limit",
        default=1,
        min=1,
        help="How many jobs sharing a concurrency key may run at once when its "
        "prefix is not in concurrency_limits: 1, a lock (Ironic's node lock, made "
        "durable), unless raised.",
    ),
    cfg.PortOpt(
        "metrics_port",
        default=0,
        help="Port on which the conductor serves Prometheus metrics (/metrics), "
        "liveness (/healthz: its loop goes round) and readiness (/readyz: its "
        "ZooKeeper session is connected and its database answers). 0 serves "
        "nothing. Give each conductor on a host its own port.",
    ),
    cfg.HostAddressOpt(
        "metrics_host",
        default="127.0.0.1",
        help="Address the metrics_port endpoint listens on; 0.0.0.0 for every "
        "IPv4 interface (the endpoint has no authentication).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
