"""Extensions written for IPA run here after changing their imports, found via entry points."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from stevedore import extension

from orchestrator.extensions import base, errors
from tests.helpers import wait_for


class Agent:
    def __init__(self) -> None:
        self.heartbeats = 0

    def force_heartbeat(self) -> None:
        self.heartbeats += 1


class Host(base.ExecuteCommandMixin):
    pass


# Written as IPA's documentation shows an extension; only the two imports change.
IPA_STYLE_SOURCE = '''\
import logging
import platform

from ironic_python_agent import errors
from ironic_python_agent.extensions import base

LOG = logging.getLogger(__name__)


def validate_stress_test_params(ext, duration=None, cpu_workers=None, **kwargs):
    if duration and (duration < 1 or duration > 3600):
        raise errors.InvalidCommandParamsError(
            'Duration must be between 1 and 3600 seconds')


class StressTestExtension(base.BaseAgentExtension):

    @base.sync_command('get_system_info')
    def get_system_info(self, **kwargs):
        return {'system': platform.system()}

    @base.async_command('run_stress_test',
                        validator=validate_stress_test_params)
    def run_stress_test(self, duration=60, cpu_workers=4, **kwargs):
        LOG.info('stress test for %s seconds', duration)
        return {'status': 'completed', 'duration': duration,
                'cpu_workers': cpu_workers}

    @base.async_command('broken_stress_test')
    def broken_stress_test(self, **kwargs):
        raise errors.CommandExecutionError(
            'stress-ng tool not found, please install it')


class StepsExtension(base.BaseAgentExtension, base.ExecuteCommandMixin):

    @base.async_command('run_steps')
    def run_steps(self, steps=None):
        names = []
        for step in steps:
            for name, params in step.items():
                result = self.execute_command(name, **params)
                result.join()
                if result.command_status != base.AgentCommandStatus.SUCCEEDED:
                    raise errors.CommandExecutionError('%s failed' % name)
                names.append(result.command_name)
        return names
'''

IMPORTS = {
    "from ironic_python_agent import errors": "from orchestrator.extensions import errors",
    "from ironic_python_agent.extensions import base": "from orchestrator.extensions import base",
}


@pytest.fixture
def ported_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The IPA-style module, imports changed, registered through a real entry point."""
    ported = IPA_STYLE_SOURCE
    for old, new in IMPORTS.items():
        ported = ported.replace(old, new)
    changed = set(IPA_STYLE_SOURCE.splitlines()) ^ set(ported.splitlines())
    assert changed == set(IMPORTS) | set(IMPORTS.values())
    (tmp_path / "ported_ipa_ext.py").write_text(ported)
    dist = tmp_path / "ported_ipa_ext-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ported-ipa-ext\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{base.NAMESPACE}]\n"
        "stress = ported_ipa_ext:StressTestExtension\n"
        "steps = ported_ipa_ext:StepsExtension\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(base, "_EXT_MANAGER", None)
    # stevedore keeps the entry points it found per namespace for the process:
    # an earlier test that loaded the installed extensions must not hide these.
    monkeypatch.setattr(extension.ExtensionManager, "ENTRY_POINT_CACHE", {})
    yield
    sys.modules.pop("ported_ipa_ext", None)


@pytest.mark.usefixtures("ported_module")
def test_ipa_shims_discover_extensions_from_the_entry_point_group() -> None:
    with pytest.raises(errors.ExtensionError, match="not initialized"):
        base.get_extension("stress")
    agent = Agent()
    mgr = base.init_ext_manager(agent)
    stress = base.get_extension("stress")
    assert type(stress).__name__ == "StressTestExtension"
    assert stress.agent is agent and stress.ext_mgr is mgr
    with pytest.raises(KeyError):
        base.get_extension("absent")


@pytest.mark.usefixtures("ported_module")
def test_an_ipa_extension_ports_by_changing_its_imports_only() -> None:
    agent = Agent()
    host = Host(ext_mgr=base.make_ext_manager(agent))
    info = host.execute_command("stress.get_system_info")
    assert info.command_status == "SUCCEEDED" and "system" in info.command_result
    with pytest.raises(errors.InvalidCommandParamsError):
        host.execute_command("stress.run_stress_test", duration=5000)
    run = host.execute_command("stress.run_stress_test", duration=5)
    assert run.wait() == {"status": "completed", "duration": 5, "cpu_workers": 4}
    broken = host.execute_command("stress.broken_stress_test").join()
    assert broken.serialize()["command_error"]["details"] == (
        "stress-ng tool not found, please install it"
    )
    steps = host.execute_command(
        "steps.run_steps",
        steps=[{"stress.get_system_info": {}}, {"stress.run_stress_test": {"duration": 1}}],
    )
    assert steps.wait() == ["get_system_info", "run_stress_test"]
    wait_for(lambda: agent.heartbeats == 4, timeout=10, message="one heartbeat per async run")
