from __future__ import annotations

from oslo_config import cfg

GROUP = "flows"

OPTS = [
    cfg.StrOpt(
        "directory",
        help="Directory of declarative flow documents (*.yaml, *.yml, *.json), "
        "registered by the name each declares, beside the flows of the "
        "orchestrator.flows entry points. Every poster and conductor of a "
        "deployment needs the same documents.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
