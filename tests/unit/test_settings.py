"""Every configured [jobboard] option reaches the board a conductor opens."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jobs
from orchestrator import conf, settings


def test_each_jobboard_setting_is_read_from_its_option(tmp_path: Path) -> None:
    config = tmp_path / "orchestrator.conf"
    config.write_text("[jobboard]\nhosts = zk1:2181,zk2:2181\npath = /boards/a\n"
                      "session_timeout = 7\ntrash_retention = 60\ntrash_max_entries = 5\n"
                      "trash_prune_interval = 30\n")
    board = settings.jobboard_settings(conf.load([str(config)]))
    assert board.hosts == ("zk1:2181", "zk2:2181")
    assert board.path == "/boards/a"
    assert board.session_timeout == 7
    assert (board.trash_retention, board.trash_max_entries, board.trash_prune_interval) == (
        60, 5, 30)


def test_no_jobboard_setting_lacks_an_option() -> None:
    options = {opt.dest for group, opts in conf.list_opts() if group == "jobboard"
               for opt in opts}
    fields = {field.name for field in dataclasses.fields(jobs.JobboardSettings)}
    assert fields <= options, fields - options
