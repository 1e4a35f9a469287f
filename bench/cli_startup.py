"""How long the CLI takes to answer: `--help` and read-only commands.

Starts a standalone deployment (ZooKeeper, SQLite, a conductor, the API) in a
temporary directory, posts a few jobs, then runs each command several times
as a fresh process, as a user would, and prints the median wall time and the
median CPU time (user + system) it cost. Read-only commands run twice, in the
same rounds and interleaved: through the API (``standalone.conf`` sets
``[cli] api_url``) and directly, reading the database and ZooKeeper (the same
file without ``[cli]``, which is how every command read before). ``--compare
REV`` also runs the commands from a checkout of REV (a git worktree), directly.
The machine is shared and noisy: read the medians, and CPU over wall.

Bytecode is compiled first (``compileall``), as an installed package has it.

    .venv/bin/python -m bench.cli_startup --runs 9
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, git_commit, say, stop_on_signals

HELP = [["--help"], ["jobs", "--help"], ["jobs", "list", "--help"], ["post", "--help"],
        ["standalone", "--help"]]
#: Read-only commands; JOB is replaced by a posted job's id prefix.
READS = [["jobs", "list"], ["jobs", "list", "--json"], ["jobs", "show", "JOB"],
         ["jobs", "explain", "JOB"], ["flows"], ["conductors"], ["schedules", "list"],
         ["commands"]]
JOBS_POSTED = 20
READY_TIMEOUT = 180.0


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


def start_standalone(work: Path) -> subprocess.Popen[bytes]:
    from orchestrator.standalone import find_free_port

    log = (work / "standalone.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli.main", "standalone", "--no-demo",
         "--state-dir", str(work / "state"), "--zookeeper-port", str(find_free_port()),
         "--api-port", str(find_free_port())], stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + READY_TIMEOUT
    while b"Serving." not in (work / "standalone.out").read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"standalone did not start; see {work / 'standalone.out'}")
        time.sleep(0.2)  # poll interval while it starts
    return proc


def post_jobs(config: Path) -> str:
    """Post the jobs listed; the id prefix of the last one."""
    last = ""
    for number in range(JOBS_POSTED):
        out = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli.main", "--config-file", str(config),
             "post", "create-volume", "--json", "--store-json",
             json.dumps({"raw_size": number + 1, "raw_availability_zone": "nova",
                         "raw_volume_type": "ssd", "name": f"bench-{number}"})],
            check=True, capture_output=True, text=True).stdout
        last = json.loads(out)["id"]
    return last[:8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each command")
    parser.add_argument("--compare", metavar="REV",
                        help="also run a checkout of this git revision (directly)")
    options = parser.parse_args()
    stop_on_signals()
    for tree in ("orchestrator", "jobs", "persistence"):
        compileall.compile_dir(ROOT / tree, quiet=1)
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as tmp:
        work = Path(tmp)
        say("starting a standalone deployment ...")
        standalone = start_standalone(work)
        through_api = work / "state" / "standalone.conf"
        directly = work / "direct.conf"
        text = through_api.read_text()
        directly.write_text(text[:text.index("[cli]")])
        ways = {"through the API": (ROOT, through_api), "directly": (ROOT, directly)}
        if options.compare:
            old = work / "compare"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                            str(old), options.compare], check=True)
            for tree in ("orchestrator", "jobs", "persistence"):
                compileall.compile_dir(old / tree, quiet=1)
            ways[f"{options.compare}, directly"] = (old, directly)
        try:
            job = post_jobs(through_api)
            results: dict[tuple[str, str], list[tuple[float, float]]] = {}
            commands = [*HELP, *([job if a == "JOB" else a for a in r] for r in READS)]
            for number in range(options.runs):
                say(f"round {number + 1}/{options.runs}")
                for args in commands:
                    for label, (source, config) in ways.items():
                        if args in HELP and label != "directly" and not label.endswith(
                                ", directly"):
                            continue  # --help reads no configuration: once is enough
                        results.setdefault((" ".join(args), label), []).append(
                            run_once(source, config, args))
        finally:
            standalone.terminate()
            standalone.wait(timeout=60)
            if options.compare:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(work / "compare")], check=False)
    print(f"commit {git_commit()}, {options.runs} runs each, medians (wall / CPU seconds)")
    print(f"| command | {' | '.join(ways)} |")
    print(f"|---|{'---|' * len(ways)}")
    for args in commands:
        name = " ".join(args)
        cells = []
        for label in ways:
            runs = results.get((name, label))
            if runs is None:
                cells.append("")
                continue
            walls, cpus = zip(*runs, strict=True)
            cells.append(f"{statistics.median(walls):.3f} / {statistics.median(cpus):.3f}")
        print(f"| orchestrator {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
