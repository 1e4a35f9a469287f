from __future__ import annotations

from oslo_config import cfg

GROUP = "standalone"

OPTS = [
    cfg.PortOpt(
        "zookeeper_port",
        default=2181,
        help="Port of the ZooKeeper that standalone mode starts on 127.0.0.1.",
    ),
    cfg.StrOpt(
        "zookeeper_install_dir",
        help="A ZooKeeper release directory (its lib/*.jar are used) instead of "
        "Debian's zookeeper package.",
    ),
    cfg.StrOpt(
        "java",
        help="Java executable for ZooKeeper. Default: java on PATH.",
    ),
    cfg.BoolOpt(
        "post_demo_jobs",
        default=True,
        help="Post the demo jobs (one that succeeds, one that fails and reverts) "
        "each time standalone mode starts.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
