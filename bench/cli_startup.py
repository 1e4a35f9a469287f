"""How long the CLI takes to answer: `--help` and read-only commands.

Runs each command several times as a fresh process, as a user would, and
prints the median wall time and the median CPU time (user + system) it cost.
``--compare REV`` runs the same commands, in the same run and interleaved,
from a checkout of REV (a git worktree), to show what a change bought.
The machine is shared and noisy: read the medians, and CPU over wall.

    .venv/bin/python -m bench.cli_startup --runs 7 --compare fc5dfc5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, git_commit, say, stop_on_signals

COMMANDS = [
    ["--help"],
    ["jobs", "--help"],
    ["jobs", "list", "--help"],
    ["post", "--help"],
    ["standalone", "--help"],
    ["jobs", "list"],
    ["jobs", "list", "--json"],
    ["conductors", "--help"],
    ["flows"],
    ["commands"],
]


def run_once(source: Path, config: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``orchestrator ARGS`` from ``source``."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "--config-file",
                    str(config), *args], env=env, cwd=source, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command")
    parser.add_argument("--compare", metavar="REV",
                        help="also run a checkout of this git revision, interleaved")
    options = parser.parse_args()
    stop_on_signals()
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as tmp:
        work = Path(tmp)
        config = work / "cli.conf"
        # An SQLite history with no ZooKeeper needed: read-only commands only.
        config.write_text(f"[DEFAULT]\nstate_path = {work / 'state'}\n")
        sources = {"this tree": ROOT}
        if options.compare:
            old = work / "compare"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                            str(old), options.compare], check=True)
            sources[options.compare] = old
        try:
            run_once(ROOT, config, ["db", "upgrade"])
            results: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for number in range(options.runs):
                say(f"round {number + 1}/{options.runs}")
                for args in COMMANDS:
                    for label, source in sources.items():
                        results.setdefault((" ".join(args), label), []).append(
                            run_once(source, config, args))
        finally:
            if options.compare:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(work / "compare")], check=False)
    print(f"commit {git_commit()}, {options.runs} runs each, medians")
    print(f"| command | {' | '.join(f'{label} wall / CPU s' for label in sources)} |")
    print(f"|---|{'---|' * len(sources)}")
    for args in COMMANDS:
        name = " ".join(args)
        cells = []
        for label in sources:
            walls, cpus = zip(*results[(name, label)], strict=True)
            cells.append(f"{statistics.median(walls):.2f} / {statistics.median(cpus):.2f}")
        print(f"| orchestrator {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
