"""Options of the command agent (``[agent]``) and of its callers (``[agent_client]``)."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "agent"

OPTS = [
    cfg.HostAddressOpt(
        "host",
        default="127.0.0.1",
        help="Address 'orchestrator agent' listens on. Use 0.0.0.0 (or ::) to "
        "serve conductors on other hosts, and then set agent_token.",
    ),
    cfg.PortOpt(
        "port",
        default=9999,
        help="TCP port of the agent's HTTP API (IPA's port).",
    ),
    cfg.StrOpt(
        "agent_token",
        secret=True,
        help="Token every command request must carry as ?agent_token=, as "
        "Ironic's conductor sends it to IPA. A request without it, or with "
        "another, is refused with 401. Unset: no check (only for an agent "
        "listening on 127.0.0.1).",
    ),
    cfg.IntOpt(
        "max_command_results",
        default=1000,
        min=1,
        help="Command results the agent keeps for GET /v1/commands/; the "
        "oldest finished ones are dropped first. IPA keeps them all.",
    ),
]

CLIENT_GROUP = "agent_client"

CLIENT_OPTS = [
    cfg.StrOpt(
        "token",
        secret=True,
        help="Token sent to agents as ?agent_token= (the agents' "
        "[agent] agent_token).",
    ),
    cfg.FloatOpt(
        "timeout",
        default=30.0,
        min=0.1,
        help="Seconds one HTTP call to an agent may take, connecting included, "
        "before the step fails.",
    ),
    cfg.FloatOpt(
        "command_timeout",
        default=600.0,
        min=0.1,
        help="Seconds to await an asynchronous command on an agent before the "
        "step fails.",
    ),
    cfg.FloatOpt(
        "poll_interval",
        default=1.0,
        min=0.01,
        help="Seconds between polls of a running command on an agent.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)
    conf.register_opts(CLIENT_OPTS, group=CLIENT_GROUP)


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """Both groups of this module (it declares two, unlike the others)."""
    return [(GROUP, list(OPTS)), (CLIENT_GROUP, list(CLIENT_OPTS))]
