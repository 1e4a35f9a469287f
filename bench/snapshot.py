"""Run the benchmark on a copy of the working tree, taken as it starts.

The product code may change while a 15-minute benchmark runs (a checkout, an
edit): conductors started later would run other code than earlier ones, and
the figures would mix versions. So ``bench/run.py`` copies the files git
would see (tracked and untracked, minus ignored ones) to a temporary directory
and re-executes itself from there with that directory first on
``PYTHONPATH``: its own imports, its conductor processes and the engine-alone
process all load the copy, which shadows the editable install.

What the copy was taken from (commit, uncommitted paths, a fingerprint of the
changes) is recorded before, so that the report can say which code ran and
whether the tree moved on meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NoReturn

ENV = "ORCHESTRATOR_BENCH_SNAPSHOT"
_SHOWN_PATHS = 12


@dataclass(frozen=True)
class Origin:
    """The tree a snapshot was copied from."""

    source: str  # the repository root
    copy: str  # the snapshot's directory ("" when running on the live tree)
    commit: str  # e.g. "cc3c9d8 with uncommitted changes (3 paths: ...)"
    fingerprint: str  # of the uncommitted changes, to tell whether they moved


def describe(root: Path) -> Origin:
    return Origin(str(root), "", _commit(root), fingerprint(root))


def reexec(root: Path, script: Path, argv: list[str]) -> NoReturn:
    """Copy the tree at ``root``, then run ``script`` (relative to it) from the copy."""
    origin = describe(root)
    copy = Path(tempfile.mkdtemp(prefix="orchestrator-bench-src-"))
    for name in _git(root, "ls-files", "-z", "--cached", "--others",
                     "--exclude-standard").split("\0"):
        source = root / name
        if name and source.is_file():  # a deleted file is still listed as cached
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    origin = Origin(origin.source, str(copy), origin.commit, origin.fingerprint)
    env = dict(os.environ)
    env[ENV] = json.dumps(asdict(origin))
    env["PYTHONPATH"] = os.pathsep.join(
        [str(copy), *filter(None, [env.get("PYTHONPATH")])])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, str(copy / script), *argv], env)


def current() -> Origin | None:
    """The snapshot this process runs from, if any."""
    raw = os.environ.get(ENV)
    return Origin(**json.loads(raw)) if raw else None


def remove(origin: Origin) -> None:
    if origin.copy:
        shutil.rmtree(origin.copy, ignore_errors=True)


def fingerprint(root: Path) -> str:
    """A hash of the uncommitted changes (and untracked files) under ``root``."""
    try:
        text = _git(root, "status", "--porcelain") + _git(root, "diff", "HEAD")
        for name in _git(root, "ls-files", "-z", "--others", "--exclude-standard").split("\0"):
            if name and (root / name).is_file():
                text += name + (root / name).read_text(errors="replace")
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


def _commit(root: Path) -> str:
    try:
        head = _git(root, "rev-parse", "--short", "HEAD").strip()
        changed = [line[3:] for line in _git(root, "status", "--porcelain").splitlines()]
    except (OSError, subprocess.CalledProcessError):
        return "?"
    if not changed:
        return f"{head} (clean tree)"
    shown = ", ".join(changed[:_SHOWN_PATHS])
    if len(changed) > _SHOWN_PATHS:
        shown += f" and {len(changed) - _SHOWN_PATHS} more"
    return f"{head} with uncommitted changes ({len(changed)} paths: {shown})"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout
