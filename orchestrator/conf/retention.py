from __future__ import annotations

from oslo_config import cfg

GROUP = "retention"

OPTS = [
    cfg.IntOpt(
        "max_age_days",
        default=30,
        min=0,
        help="Days a finished job (SUCCESS, REVERTED or FAILED) is kept after it "
        "ended. Conductors then delete it with its attempts, its logbook and its "
        "flow and atom details; 0 keeps finished jobs for ever. Jobs that have not "
        "finished are never deleted. The jobboard's trash has its own retention "
        "([jobboard] trash_retention).",
    ),
    cfg.IntOpt(
        "batch_size",
        default=500,
        min=1,
        help="Jobs deleted per transaction: each batch is short, so neither "
        "database holds its locks for long.",
    ),
    cfg.FloatOpt(
        "interval",
        default=3600.0,
        min=1.0,
        help="Seconds between two purges by one conductor; the first comes at a "
        "random point of the first interval. Several conductors may purge at "
        "once safely.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
