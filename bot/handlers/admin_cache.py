"""Who is an administrator of which group, as Telegram last said: cached for a while so a busy
group does not cost one getChatMember per command, on the injected clock (tests move time, they
do not sleep) and bounded (the oldest answers go first), so a bot in many groups cannot grow it
without limit."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

ADMIN_CACHE_S = 300.0
ADMIN_CACHE_MAX = 10_000  # (chat, user) answers kept


class AdminCache:
    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        ttl_s: float = ADMIN_CACHE_S,
        max_entries: int = ADMIN_CACHE_MAX,
    ) -> None:
        self.clock = clock
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._answers: OrderedDict[tuple[int, int], tuple[datetime, bool]] = OrderedDict()

    def get(self, chat_id: int, user_id: int) -> bool | None:
        """The cached answer, or None when there is none or it is older than the TTL."""
        key = (chat_id, user_id)
        hit = self._answers.get(key)
        if hit is None:
            return None
        asked, is_admin = hit
        if (self.clock() - asked).total_seconds() >= self.ttl_s:
            del self._answers[key]
            return None
        return is_admin

    def put(self, chat_id: int, user_id: int, is_admin: bool) -> None:
        key = (chat_id, user_id)
        self._answers.pop(key, None)
        self._answers[key] = (self.clock(), is_admin)
        while len(self._answers) > self.max_entries:
            self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)
