"""The board's ZooKeeper connection: kazoo with our poll(2) handler, in clear and over TLS.

``jobs.zkclient.poll_select`` must keep the contract kazoo's connection loop relies on
(``select.select``'s), which the socket-pair tests pin down; the TLS test runs a
board pair through a ZooKeeper that only speaks TLS on the port they use.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobs
from jobs.zkclient import poll_select
from orchestrator.standalone import LocalZooKeeper, ZooKeeperError, find_free_port
from tests.conftest import service_unavailable
from tests.helpers import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    try:
        yield left, right
    finally:
        left.close()
        right.close()


def test_boards_connect_through_the_poll_handler() -> None:
    client = jobs.make_client(jobs.JobboardSettings())
    assert isinstance(client.handler, jobs.PollHandler)


def test_poll_select_waits_for_what_is_asked(
        pair: tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    assert poll_select([left], [], [], 0) == ([], [], [])
    assert poll_select([left], [], [], 0.05) == ([], [], [])
    assert poll_select([left], [left], [], 0) == ([], [left], [])
    right.sendall(b"x")
    assert poll_select([left, right], [], [], None) == ([left], [], [])
    assert poll_select([left.fileno()], [], [], 1) == ([left.fileno()], [], [])


def test_poll_select_reports_a_hung_up_socket_as_readable(
        pair: tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    right.close()
    assert poll_select([left], [], [], 5) == ([left], [], [])
    assert left.recv(1) == b""  # what kazoo then reads, and drops the connection on


def test_poll_select_refuses_a_negative_timeout(
        pair: tuple[socket.socket, socket.socket]) -> None:
    with pytest.raises(ValueError):
        poll_select([pair[0]], [], [], -1)


class Buffered:
    """A TLS socket's shape: decrypted bytes waiting, nothing on the descriptor."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def pending(self) -> int:
        return 5


def test_poll_select_reads_a_tls_socket_holding_bytes_at_once(
        pair: tuple[socket.socket, socket.socket]) -> None:
    buffered = Buffered(pair[0])
    # Without the check this would wait the whole 30 s and find nothing.
    assert poll_select([buffered, pair[1]], [], [], 30) == ([buffered], [], [])


# -- TLS ------------------------------------------------------------------------------

#: Debian's zookeeper.jar names only part of what its Netty server needs.
NETTY_JARS = [Path("/usr/share/java/netty-codec.jar"), Path("/usr/share/java/netty-resolver.jar")]


class TlsZooKeeper(LocalZooKeeper):
    """A standalone server with a TLS-only client port beside its plain one."""

    def __init__(self, data_dir: Path, certs: Path) -> None:
        super().__init__(data_dir, port=find_free_port(),
                         java=os.environ.get("ORCHESTRATOR_TEST_JAVA") or None)
        self.secure_port = find_free_port()
        self.certs = certs

    @property
    def secure_hosts(self) -> str:
        return f"{self.host}:{self.secure_port}"

    def _classpath(self) -> list[str]:
        return [*super()._classpath(), *(str(jar) for jar in NETTY_JARS)]

    def _config_text(self) -> str:
        return super()._config_text() + "\n".join([
            f"secureClientPort={self.secure_port}",
            "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
            f"ssl.keyStore.location={self.certs / 'server.pem'}",
            "ssl.keyStore.type=PEM",
            f"ssl.trustStore.location={self.certs / 'ca.pem'}",
            "ssl.trustStore.type=PEM",
            "ssl.clientAuth=none",
        ]) + "\n"


def make_certificates(directory: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 it signed, with openssl."""
    directory.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=orchestrator-test-ca", "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr")
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.crt")
    (directory / "server.pem").write_text(
        (directory / "server.key").read_text() + (directory / "server.crt").read_text())


@pytest.fixture
def tls_zookeeper(tmp_path: Path) -> Iterator[TlsZooKeeper]:
    if shutil.which("openssl") is None:
        service_unavailable("openssl is needed to make the TLS test's certificates")
    if missing := [str(jar) for jar in NETTY_JARS if not jar.is_file()]:
        service_unavailable(f"ZooKeeper's TLS port needs {', '.join(missing)}")
    make_certificates(tmp_path / "certs")
    server = TlsZooKeeper(tmp_path / "tls-zookeeper", tmp_path / "certs")
    try:
        server.start()
    except (ZooKeeperError, OSError) as exc:
        server.stop()
        service_unavailable(f"ZooKeeper with TLS unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


def test_boards_work_over_tls(tls_zookeeper: TlsZooKeeper, tmp_path: Path,
                              jobboard_path: str) -> None:
    settings = jobs.JobboardSettings(hosts=(tls_zookeeper.secure_hosts,), path=jobboard_path,
                                     use_ssl=True, ca_file=str(tmp_path / "certs" / "ca.pem"))
    # Postings of several TLS records each, read in one burst by the watching board.
    details = {"version": 1, "pad": "x" * 40_000}
    with jobs.open_jobboard(settings, "poster", watch=False) as poster:
        posted = [poster.post(uuid=str(uuid.uuid4()), name="bench-1-task", details=details,
                              book_uuid=str(uuid.uuid4()), book_name="tls")
                  for _ in range(20)]
        with jobs.open_jobboard(settings, "conductor") as board:
            assert isinstance(board.client.handler, jobs.PollHandler)
            wait_for(lambda: board.complete and len(board.jobs()) == len(posted),
                     timeout=30, message="the board to read every posting over TLS")
            assert {job.uuid for job in board.jobs()} == {job.uuid for job in posted}
            assert all(dict(job.details) == details for job in board.jobs())
            for job in board.unclaimed():
                board.claim(job)
                assert board.lock_owner(job) == "conductor"
                board.consume(job)
            wait_for(lambda: not board.jobs(), timeout=30,
                     message="the consumed jobs to leave the board")
