"""Seeing packages installed while a process runs: flows, extensions, documents.

Entry points are read once and cached, by stevedore (in memory and on disk)
and by this product (the command catalog, the loaded extensions). A
conductor that reloads its flows (SIGHUP, or a job naming a flow it lacks)
forgets those caches first. Clearing stevedore's cache reaches into its
internals: the version is pinned in pyproject.toml and
tests/unit/test_plugins.py fails if an upgrade changes them.
"""

from __future__ import annotations

import importlib

from stevedore import _cache as stevedore_cache
from stevedore import extension


def forget_installed() -> None:
    """Make the next look at entry points see what was installed since the last."""
    from orchestrator.commands import catalog, runner

    importlib.invalidate_caches()
    extension.ExtensionManager.ENTRY_POINT_CACHE.clear()
    # Keyed by sys.path alone: without this, a package added to a directory
    # already on the path stays unseen for the life of the process.
    stevedore_cache._c._internal.clear()
    catalog.forget_installed()
    runner.forget_installed()
