from __future__ import annotations

from oslo_config import cfg

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
        help="Seconds between looks at the jobboard when no job could be "
        "claimed. New jobs also arrive through ZooKeeper watches.",
    ),
    cfg.IntOpt(
        "max_attempts",
        default=5,
        min=1,
        help="Claims of one job that may end in a storage or execution error "
        "before the job is failed instead of handed back again. Stock "
        "TaskFlow retries such a job forever.",
    ),
    cfg.FloatOpt(
        "retry_delay",
        default=1.0,
        min=0.0,
        help="Seconds before a job whose attempt failed in storage or execution is "
        "handed back; doubled on each further attempt, at most 60.",
    ),
    cfg.FloatOpt(
        "cancel_check_interval",
        default=0.5,
        min=0.0,
        help="At most this many seconds between looks at whether a running job "
        "was cancelled. A cancelled job stops at the first task boundary after "
        "a look, then reverts.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
