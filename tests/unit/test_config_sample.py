"""The committed sample configuration must match the options the code declares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "orchestrator.conf.sample"


def test_sample_config_matches_declared_options(tmp_path: Path) -> None:
    generated = tmp_path / "orchestrator.conf.sample"
    subprocess.run(
        [sys.executable, "-m", "oslo_config.generator",
         "--config-file", str(ROOT / "deploy" / "config-generator.conf"),
         "--output-file", str(generated)],
        check=True, cwd=ROOT,
    )
    assert generated.read_text() == SAMPLE.read_text(), (
        "deploy/orchestrator.conf.sample is out of date; regenerate it with "
        "'make config-sample'"
    )
