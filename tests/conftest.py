"""Shared test set-up: the loopback-only network guard and small common fixtures.

Every test runs under ``_loopback_only``: a socket that tries to connect anywhere but
127.0.0.0/8 or ::1 fails the test at once (our equivalent of PTB's OfflineRequest).
"""

from __future__ import annotations

import ipaddress
import os
import socket
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


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
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
