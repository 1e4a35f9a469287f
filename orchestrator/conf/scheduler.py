from __future__ import annotations

from oslo_config import cfg

GROUP = "scheduler"

OPTS = [
    cfg.BoolOpt(
        "enabled",
        default=True,
        help="Whether this conductor contends for the scheduler's leadership. The "
        "leader (one per jobboard, elected in ZooKeeper) posts the jobs of "
        "schedules whose fire time has come; when it dies, another conductor "
        "takes over once its ZooKeeper session expires.",
    ),
    cfg.FloatOpt(
        "interval",
        default=1.0,
        min=0.1,
        help="Seconds between two looks at the schedules by the leader (and "
        "between two attempts of the others to lead). A job is posted at most "
        "this late after its fire time.",
    ),
    cfg.FloatOpt(
        "misfire_grace",
        default=60.0,
        min=0.0,
        help="Seconds a fire time may have passed and still be posted (late): "
        "after a leader's death, or a slow turn. Older fire times were missed "
        "while no scheduler ran, and follow the schedule's missed policy: 'skip' "
        "records them as skipped, 'run_once' posts one job for the latest.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
