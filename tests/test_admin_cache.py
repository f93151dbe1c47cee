"""The group-admin cache runs on the injected clock and stays bounded (issue 11)."""

from __future__ import annotations

from bot.handlers.admin_cache import AdminCache
from tests.harness import FakeClock


def test_answers_expire_on_the_injected_clock():
    clock = FakeClock()
    cache = AdminCache(clock, ttl_s=300)
    cache.put(-100, 7, True)
    assert cache.get(-100, 7) is True
    clock.advance(299)
    assert cache.get(-100, 7) is True
    clock.advance(1)
    assert cache.get(-100, 7) is None  # asked again after five minutes
    assert len(cache) == 0


def test_the_oldest_answers_go_first_when_full():
    cache = AdminCache(FakeClock(), max_entries=3)
    for user in range(5):
        cache.put(-100, user, user % 2 == 0)
    assert len(cache) == 3
    assert cache.get(-100, 0) is None and cache.get(-100, 1) is None
    assert [cache.get(-100, u) for u in (2, 3, 4)] == [True, False, True]
    cache.put(-100, 2, False)  # a fresh answer replaces the old one and is the newest
    cache.put(-100, 5, True)
    assert cache.get(-100, 3) is None and cache.get(-100, 2) is False
