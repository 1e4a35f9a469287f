"""CPU per run of a flow on TaskFlow's engine alone: no jobboard, no database.

``python -m bench.inmemory --flows bench-1-task,bench-10-tasks --seconds 2``
builds each flow from its factory and runs it with ``taskflow.engines.run``
(serial engine, TaskFlow's in-memory persistence) over and over, and prints
the process CPU time (user + system) per run as JSON: one figure per round and
flow, rounds interleaved across flows. It runs in a process of its own so that
nothing else (ZooKeeper clients, the benchmark's pollers) shares its CPU
clock. This is the floor a conductor's CPU per job is compared with: the same
flow, built and run the same way, minus claiming, persistence and the board.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from taskflow import engines

from bench.stock import FACTORIES

ROOT = Path(__file__).resolve().parent.parent
_WARMUP_RUNS = 20
_MIN_RUNS = 20


def cpu_ms_per_run(flow: str, seconds: float) -> float:
    """Run ``flow`` for about ``seconds`` of CPU; return CPU milliseconds per run."""
    factory = FACTORIES[flow]
    for _ in range(_WARMUP_RUNS):
        engines.run(factory(), engine="serial")
    runs = 0
    start = time.process_time()
    while runs < _MIN_RUNS or time.process_time() - start < seconds:
        engines.run(factory(), engine="serial")
        runs += 1
    return (time.process_time() - start) / runs * 1000


def measure(flows: list[str], seconds: float, rounds: int) -> dict[str, list[float]]:
    """Run this module in a new process; return CPU ms per run, one figure per round."""
    command = [sys.executable, "-m", "bench.inmemory", "--flows", ",".join(flows),
               "--seconds", str(seconds), "--rounds", str(rounds)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n"
                           + done.stderr[-2000:])
    figures = json.loads(done.stdout)
    return {flow: [float(v) for v in values] for flow, values in figures.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", default=",".join(FACTORIES))
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="CPU seconds per flow and round (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    flows = [f for f in args.flows.split(",") if f]
    figures: dict[str, list[float]] = {flow: [] for flow in flows}
    for _ in range(args.rounds):
        for flow in flows:
            figures[flow].append(cpu_ms_per_run(flow, args.seconds))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
