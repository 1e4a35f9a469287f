"""The stress-test extension of the IPA extension guide, as a separate plugin.

Written the way IPA extensions are written; only the two imports differ from
an IPA plugin (``ironic_python_agent.extensions.base`` and
``ironic_python_agent.errors``). ``reserve_node`` declares ``release_node``
as its compensating command, so a failed burn-in leaves no reservation behind.
"""

import os
import platform
import shutil
import subprocess
import threading
import time

from orchestrator.extensions import base
from orchestrator.extensions import errors


def validate_stress_test_params(ext, duration=None, cpu_workers=None, **kwargs):
    if duration is not None and not 0 < float(duration) <= 3600:
        raise errors.InvalidCommandParamsError(
            'Duration must be between 0 and 3600 seconds')
    if cpu_workers is not None and not 1 <= int(cpu_workers) <= 32:
        raise errors.InvalidCommandParamsError(
            'CPU workers must be between 1 and 32')


def validate_reservation_params(ext, node=None, reservations_dir=None, **kwargs):
    if not node or '/' in node or node.startswith('.'):
        raise errors.InvalidCommandParamsError('node must be a plain name')
    if not reservations_dir or not os.path.isdir(reservations_dir):
        raise errors.InvalidCommandParamsError(
            'reservations_dir must be an existing directory')


class StressTestExtension(base.BaseAgentExtension):
    """System facts and a CPU burn-in for a node being commissioned."""

    @base.sync_command('get_system_info')
    def get_system_info(self, **kwargs):
        return {
            'system': platform.system(),
            'machine': platform.machine(),
            'processor': platform.processor(),
            'cpu_count': os.cpu_count(),
            'memory': self._get_memory_info(),
        }

    @base.async_command('run_stress_test', validator=validate_stress_test_params)
    def run_stress_test(self, duration=60, cpu_workers=4, **kwargs):
        duration = float(duration)
        cpu_workers = int(cpu_workers)
        if shutil.which('stress-ng'):
            process = subprocess.run(
                ['stress-ng', '--cpu', str(cpu_workers), '--timeout', f'{duration}s',
                 '--metrics-brief'], capture_output=True, text=True)
            if process.returncode != 0:
                raise errors.CommandExecutionError(
                    f'Stress test failed: {process.stderr.strip()[-500:]}')
            return {'status': 'completed', 'tool': 'stress-ng', 'duration': duration,
                    'cpu_workers': cpu_workers, 'return_code': process.returncode}
        return self._burn_in_python(duration, cpu_workers)

    @base.sync_command('check_results')
    def check_results(self, stress_result=None, min_loops_per_second=0, **kwargs):
        rate = (stress_result or {}).get('loops_per_second')
        if rate is not None and rate < float(min_loops_per_second):
            raise errors.CommandExecutionError(
                f'Burn-in too slow: {rate:.0f} loops/s, below the required '
                f'{float(min_loops_per_second):.0f}')
        return {'passed': True, 'loops_per_second': rate}

    @base.sync_command('reserve_node', validator=validate_reservation_params,
                       revert='release_node')
    def reserve_node(self, node=None, reservations_dir=None, **kwargs):
        path = os.path.join(reservations_dir, f'{node}.reserved')
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise errors.CommandExecutionError(f'node {node} is already reserved')
        with os.fdopen(fd, 'w') as reservation:
            reservation.write(f'{time.time()}\n')
        return {'node': node, 'reservation': path}

    @base.sync_command('release_node', validator=validate_reservation_params)
    def release_node(self, node=None, reservations_dir=None, result=None, **kwargs):
        path = os.path.join(reservations_dir, f'{node}.reserved')
        try:
            os.unlink(path)
        except FileNotFoundError:
            return {'node': node, 'released': False}
        return {'node': node, 'released': True}

    def _burn_in_python(self, duration, cpu_workers):
        # Without stress-ng: busy loops in threads, counting iterations.
        loops = [0] * cpu_workers
        deadline = time.monotonic() + duration

        def burn(index):
            while time.monotonic() < deadline:
                for _ in range(10000):
                    pass
                loops[index] += 1

        workers = [threading.Thread(target=burn, args=(i,)) for i in range(cpu_workers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        total = sum(loops)
        return {'status': 'completed', 'tool': 'python', 'duration': duration,
                'cpu_workers': cpu_workers, 'loops': total,
                'loops_per_second': total / duration if duration else 0.0}

    def _get_memory_info(self):
        info = {}
        try:
            with open('/proc/meminfo') as meminfo:
                for line in meminfo:
                    key, _, value = line.partition(':')
                    if key in ('MemTotal', 'MemAvailable'):
                        info[key] = value.strip()
        except OSError:
            pass
        return info
