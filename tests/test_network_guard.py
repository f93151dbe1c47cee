"""The guard itself (tests/conftest.py): a test that tries to leave 127.0.0.1 fails, whether it
connects, looks a name up, sends a datagram or starts a program that could do any of those.

Every attempt here is harmless should the guard ever let it through: names under .invalid, the
never-routed TEST-NET addresses, programs that do nothing."""

import asyncio
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import NetworkAccessError, _own_child


def test_non_loopback_connect_is_refused() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkAccessError):
            s.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed
    finally:
        s.close()


def test_loopback_connect_is_allowed() -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        cli.connect(srv.getsockname())
    finally:
        cli.close()
        srv.close()


# --- DNS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lookup",
    [
        lambda: socket.getaddrinfo("mempool.example.invalid", 443),
        lambda: socket.getaddrinfo("example.invalid", None),
        lambda: socket.gethostbyname("kraken.example.invalid"),
        lambda: socket.gethostbyname_ex("sec.example.invalid"),
        lambda: socket.gethostbyaddr("192.0.2.1"),
        lambda: socket.getnameinfo(("192.0.2.1", 80), 0),
    ],
    ids=[
        "getaddrinfo",
        "getaddrinfo-no-port",
        "gethostbyname",
        "gethostbyname_ex",
        "gethostbyaddr",
        "getnameinfo",
    ],
)
def test_dns_lookups_of_other_hosts_are_refused(lookup: object) -> None:
    with pytest.raises(NetworkAccessError, match="DNS"):
        lookup()  # type: ignore[operator]


async def test_the_event_loops_resolver_is_refused_too() -> None:
    """aiohttp resolves through loop.getaddrinfo, which runs socket.getaddrinfo in a thread."""
    with pytest.raises(NetworkAccessError, match="DNS"):
        await asyncio.get_running_loop().getaddrinfo("mempool.example.invalid", 443)


def test_loopback_and_numeric_lookups_are_allowed() -> None:
    assert socket.getaddrinfo("127.0.0.1", 80)[0][4][0] == "127.0.0.1"
    assert {info[4][0] for info in socket.getaddrinfo("localhost", 80)} <= {"127.0.0.1", "::1"}
    # A numeric address is not looked up anywhere (connecting to it is what the guard refuses).
    assert socket.getaddrinfo("192.0.2.1", 80, type=socket.SOCK_STREAM)[0][4] == ("192.0.2.1", 80)


# --- UDP ---------------------------------------------------------------------------------------


def test_udp_to_another_host_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(NetworkAccessError, match="UDP"):
            s.sendto(b"\x00", ("192.0.2.1", 53))
        with pytest.raises(NetworkAccessError, match="UDP"):
            s.sendto(b"\x00", 0, ("198.51.100.1", 53))  # TEST-NET-2
        with pytest.raises(NetworkAccessError, match="UDP"):
            s.sendmsg([b"\x00"], [], 0, ("192.0.2.1", 53))


def test_udp_on_loopback_is_allowed() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        tx.sendto(b"ping", rx.getsockname())
        assert rx.recvfrom(16)[0] == b"ping"


# --- child processes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        lambda: subprocess.run(["true"], check=False),
        lambda: subprocess.run("exit 0", shell=True, check=False),
        lambda: subprocess.Popen([sys.executable, "-c", "pass"]),
        lambda: os.system("true"),
        lambda: os.posix_spawnp("true", ["true"], dict(os.environ)),
        lambda: os.spawnlp(os.P_WAIT, "true", "true"),
    ],
    ids=["run", "shell", "python-c", "os.system", "posix_spawnp", "spawnlp"],
)
def test_other_programs_are_refused(start: object) -> None:
    with pytest.raises(NetworkAccessError, match="child process"):
        start()  # type: ignore[operator]


async def test_asyncio_subprocesses_of_other_programs_are_refused() -> None:
    with pytest.raises(NetworkAccessError, match="child process"):
        await asyncio.create_subprocess_exec("sh", "-c", "true")


def test_only_the_projects_own_bot_may_run() -> None:
    """`python -m bot` is what test_cli, test_ops_shutdown and test_crash_restart start, with every
    upstream of its config on 127.0.0.1. The guard cannot reach into that process, so nothing else
    may be started: any other program or Python code could leave the machine unguarded."""
    assert _own_child([sys.executable, "-m", "bot", "run", "--config", "x.toml"], None)
    assert not _own_child([sys.executable, "-m", "pip", "install", "x"], None)
    assert not _own_child([sys.executable, "-c", "print(1)"], None)
    assert not _own_child(["/usr/bin/python3", "-m", "bot"], "/usr/bin/curl")
    assert not _own_child(["sh", "-c", f"{sys.executable} -m bot"], None)
