"""Shared test set-up: the loopback-only network guard and small common fixtures.

Every test runs under ``_loopback_only``: a socket that tries to connect anywhere but
127.0.0.0/8 or ::1 fails the test at once (our equivalent of PTB's OfflineRequest), and so does a DNS
lookup of any other name, a UDP datagram to any other address, and starting any program but the
project's own bot (``python -m bot``, whose configs in the tests point every upstream at 127.0.0.1;
the guard cannot reach into another process, so nothing else may be started).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests check correctness, not speed (speed is measured in bench/): on a loaded CI
# machine a slow example must not fail the suite, so no per-example deadline and no too-slow
# health check. Everything else of hypothesis's defaults stays.
settings.register_profile(
    "minerwatch", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("minerwatch")

# PTB v22 warns when RetryAfter.retry_after is read as seconds; we read timedeltas (conventions §8).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from tests.fake_telegram import FakeTelegram  # noqa: E402  (after PTB_TIMEDELTA is set)

FIXTURES = Path(__file__).parent / "fixtures"


class NetworkAccessError(AssertionError):
    """Raised when a test tries to leave the machine."""


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkAccessError(f"test tried to reach {address!r}: tests stay on 127.0.0.1")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise NetworkAccessError(f"test tried to reach {address!r}: tests stay on 127.0.0.1")
    return _real_connect_ex(self, address)


def _no_lookup_needed(host: Any) -> bool:
    """A host whose lookup stays on this machine: none, localhost, or a numeric address (the
    resolver only parses it; connecting to a non-loopback one is refused by the connect guard)."""
    if host is None or host in ("localhost", b"localhost", ""):
        return True
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host).split("%")[0])
    except ValueError:
        return False
    return True


_real_getaddrinfo = socket.getaddrinfo
_real_gethostbyname = socket.gethostbyname
_real_gethostbyname_ex = socket.gethostbyname_ex
_real_gethostbyaddr = socket.gethostbyaddr
_real_getnameinfo = socket.getnameinfo


def _refuse_dns(host: Any) -> None:
    raise NetworkAccessError(f"test tried a DNS lookup of {host!r}: tests stay on 127.0.0.1")


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _no_lookup_needed(host):
        _refuse_dns(host)
    return _real_getaddrinfo(host, *args, **kwargs)


def _guarded_gethostbyname(host: str) -> str:
    if not _no_lookup_needed(host):
        _refuse_dns(host)
    return _real_gethostbyname(host)


def _guarded_gethostbyname_ex(host: str) -> Any:
    if not _no_lookup_needed(host):
        _refuse_dns(host)
    return _real_gethostbyname_ex(host)


def _guarded_gethostbyaddr(address: str) -> Any:
    if not _is_loopback((address, 0)):  # a reverse lookup asks a DNS server about the address
        _refuse_dns(address)
    return _real_gethostbyaddr(address)


def _guarded_getnameinfo(sockaddr: Any, flags: int) -> Any:
    if not _is_loopback(sockaddr):
        _refuse_dns(sockaddr)
    return _real_getnameinfo(sockaddr, flags)


_real_sendto = socket.socket.sendto
_real_sendmsg = socket.socket.sendmsg


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    address = args[-1]  # sendto(data, address) or sendto(data, flags, address)
    if not _is_loopback(address):
        raise NetworkAccessError(f"test tried to send UDP to {address!r}: tests stay on 127.0.0.1")
    return _real_sendto(self, data, *args)


def _guarded_sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
    if len(args) >= 3 and args[2] is not None and not _is_loopback(args[2]):
        raise NetworkAccessError(f"test tried to send UDP to {args[2]!r}: tests stay on 127.0.0.1")
    return _real_sendmsg(self, buffers, *args)


def _own_child(argv: list[Any], executable: Any) -> bool:
    """Only ``<this python> -m bot ...`` may be started (test_cli, test_ops_shutdown,
    test_crash_restart run the bot as a user does)."""
    program = os.fsdecode(executable) if executable is not None else os.fsdecode(argv[0]) if argv else ""
    try:
        same_python = os.path.samefile(program, sys.executable)
    except OSError:
        same_python = False
    return same_python and [os.fsdecode(a) for a in argv[1:3]] == ["-m", "bot"]


def _refuse_child(what: Any) -> None:
    raise NetworkAccessError(
        f"test tried to start a child process {what!r}: only `python -m bot` may run (it cannot be guarded)"
    )


_real_execute_child = subprocess.Popen._execute_child  # type: ignore[attr-defined]


def _guarded_execute_child(self: subprocess.Popen[Any], args: Any, executable: Any, *rest: Any) -> Any:
    argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
    if not _own_child(argv, executable):
        _refuse_child(args)
    return _real_execute_child(self, args, executable, *rest)


def _refusing(name: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        _refuse_child(f"{name}{args!r}")

    return refuse


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", _guarded_sendto)
    monkeypatch.setattr(socket.socket, "sendmsg", _guarded_sendmsg)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyname", _guarded_gethostbyname)
    monkeypatch.setattr(socket, "gethostbyname_ex", _guarded_gethostbyname_ex)
    monkeypatch.setattr(socket, "gethostbyaddr", _guarded_gethostbyaddr)
    monkeypatch.setattr(socket, "getnameinfo", _guarded_getnameinfo)
    # Programs: subprocess (and asyncio's subprocesses, which use it) through one choke point;
    # os.system and the spawn functions never start the bot in our tests, so they are refused.
    monkeypatch.setattr(subprocess.Popen, "_execute_child", _guarded_execute_child)
    for name in ("system", "posix_spawn", "posix_spawnp", "spawnv", "spawnve", "spawnvp", "spawnvpe"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _refusing(f"os.{name}"))
    yield


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    """The fake Telegram Bot API server on 127.0.0.1 (tests/fake_telegram.py)."""
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()
