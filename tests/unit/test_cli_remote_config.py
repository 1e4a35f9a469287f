"""``[cli] api_url`` read without oslo.config must read what oslo.config reads.

The fast reader (``orchestrator.cli.remote.configured``) decides whether a
read-only command goes through the API; if it ever read another URL than
oslo.config, a command would show another deployment than the one its
configuration names. Each case is read both ways; where the reader cannot be
sure it must answer None (the command then reads directly, with oslo.config).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import conf as orchestrator_conf
from orchestrator.cli import remote

URL = "http://127.0.0.1:8181"


def oslo_url(files: list[str]) -> str | None:
    return orchestrator_conf.load(files).cli.api_url  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def no_outside_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither reader may find this machine's own files or environment."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("OS_CLI__API_URL", "OS_CLI__API_TOKEN", "OS_CLI__API_TIMEOUT", "SNAP",
                 "SNAP_COMMON"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(remote, "_search_dirs", lambda: [
        tmp_path / "home" / ".orchestrator", tmp_path / "home"])


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text", [
    f"[cli]\napi_url = {URL}\n",
    f"[CLI]\napi_url={URL}\n",
    f"[cli]\napi_url: {URL}\n",
    f'[cli]\napi_url = "{URL}"\n',
    f"[DEFAULT]\nx = 1\n[cli]\napi_url = http://elsewhere:1\napi_url = {URL}\n",
    f"# comment\n; another\n[cli]\n\napi_url = {URL}\n[api]\nport = 1\n",
])
def test_one_file_reads_as_oslo_config_reads_it(tmp_path: Path, text: str) -> None:
    files = [write(tmp_path, "a.conf", text)]
    api = remote.configured(files)
    assert api is not None
    assert api.url == oslo_url(files) == URL


def test_the_last_file_wins_as_in_oslo_config(tmp_path: Path) -> None:
    files = [write(tmp_path, "a.conf", "[cli]\napi_url = http://first:1\n"),
             write(tmp_path, "b.conf", f"[cli]\napi_url = {URL}\n")]
    api = remote.configured(files)
    assert api is not None and api.url == oslo_url(files) == URL


def test_unset_means_no_api(tmp_path: Path) -> None:
    files = [write(tmp_path, "a.conf", "[api]\nport = 8080\n[DEFAULT]\napi_url = x\n")]
    assert remote.configured(files) is None
    assert oslo_url(files) is None


def test_the_environment_beats_the_files_as_in_oslo_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [write(tmp_path, "a.conf", "[cli]\napi_url = http://file:1\n")]
    monkeypatch.setenv("OS_CLI__API_URL", URL)
    api = remote.configured(files)
    assert api is not None and api.url == oslo_url(files) == URL


def test_the_default_file_is_found_where_oslo_config_finds_it(tmp_path: Path) -> None:
    write(tmp_path, "home/.orchestrator/orchestrator.conf", f"[cli]\napi_url = {URL}\n")
    write(tmp_path, "home/orchestrator.conf", "[cli]\napi_url = http://second:1\n")
    api = remote.configured([])
    assert api is not None and api.url == oslo_url([]) == URL


def test_a_conf_d_directory_is_read_after_the_files(tmp_path: Path) -> None:
    files = [write(tmp_path, "a.conf", "[cli]\napi_url = http://file:1\n")]
    write(tmp_path, "home/.orchestrator/orchestrator.conf.d/10-api.conf",
          f"[cli]\napi_url = {URL}\n")
    api = remote.configured(files)
    assert api is not None and api.url == oslo_url(files) == URL


@pytest.mark.parametrize("text", [
    "[cli]\napi_url = http://$host:8080\n",   # oslo.config interpolates
    "api_url = http://x:1\n[cli]\n",           # oslo.config refuses the file
    "[cli]\napi_url = ftp://x/\n",             # oslo.config refuses the scheme
])
def test_what_it_cannot_be_sure_of_goes_to_oslo_config(tmp_path: Path, text: str) -> None:
    assert remote.configured([write(tmp_path, "a.conf", text)]) is None


def test_token_and_timeout_are_read(tmp_path: Path) -> None:
    files = [write(tmp_path, "a.conf",
                   f"[cli]\napi_url = {URL}\napi_token = s3cret\napi_timeout = 2.5\n")]
    api = remote.configured(files)
    assert api == remote.Api(URL, "s3cret", 2.5)
    conf = orchestrator_conf.load(files)
    assert (conf.cli.api_token, conf.cli.api_timeout) == ("s3cret", 2.5)


def test_defaults_are_oslo_configs(tmp_path: Path) -> None:
    files = [write(tmp_path, "a.conf", f"[cli]\napi_url = {URL}\n")]
    conf = orchestrator_conf.load(files)
    assert remote.configured(files) == remote.Api(URL, conf.cli.api_token,
                                                  conf.cli.api_timeout)
