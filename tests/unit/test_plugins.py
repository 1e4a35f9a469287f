"""The contract orchestrator.plugins relies on: stevedore caches entry points per
sys.path, and forget_installed makes a package installed since visible."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from stevedore import extension

from orchestrator import plugins

GROUP = "orchestrator.test-plugins"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("late_plugin", None)
        plugins.forget_installed()


def names() -> list[str]:
    return sorted(ext.name for ext in extension.ExtensionManager(GROUP))


def install(site: Path) -> None:
    (site / "late_plugin.py").write_text("VALUE = 42\n")
    info = site / "late_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: late-plugin\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\nlate = late_plugin:VALUE\n")


def test_a_package_installed_after_the_first_look_is_seen_once_forgotten(
        site: Path) -> None:
    assert names() == []
    install(site)
    # Cached by stevedore: unseen until forgotten. If an upgrade stops caching,
    # this fails, and forget_installed may no longer be needed.
    assert names() == []
    plugins.forget_installed()
    assert names() == ["late"]
