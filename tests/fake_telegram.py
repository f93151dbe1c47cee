"""A fake Telegram Bot API server on 127.0.0.1 that the real python-telegram-bot Application talks
to through ``base_url``. It answers the methods the bot uses, long-polls ``getUpdates``, records
every request, can be scripted to fail (429 with retry_after, 403 blocked, 400 migrate, 500) using
Telegram's real error bodies, and can enforce Telegram's rate limits for benchmarks."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 777000111
BOT_USERNAME = "MinerWatchTestBot"
TOKEN = "123456:TEST-token-never-logged"

# A ChatMemberAdministrator's rights, as getChatMember / getChatAdministrators answer them.
ADMIN_RIGHTS: dict[str, bool] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}

JSON_FIELDS = {"reply_markup", "link_preview_options", "allowed_updates", "commands", "scope", "entities"}


class ChatNotFound(Exception):
    """Answered as Telegram's real 400 "Bad Request: chat not found"."""


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # monotonic seconds
    status: int = 200  # what the fake answered: only 200s count as delivered


@dataclass
class Fault:
    status: int
    body: dict[str, Any]
    chat_id: int | None = None  # None: any chat


@dataclass
class RateLimits:
    """Telegram's documented limits, enforced with 429s (for benchmarks and limit tests)."""

    overall_per_s: float = 30.0
    per_chat_per_s: float = 1.0
    group_per_min: float = 20.0
    retry_after_s: int = 1


@dataclass
class FakeTelegram:
    calls: list[Call] = field(default_factory=list)
    updates: deque[dict[str, Any]] = field(default_factory=deque)
    faults: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    admins: dict[int, set[int]] = field(default_factory=dict)  # chat id -> admin user ids
    # chats getChat knows: "@name" or id -> Chat JSON (channels the bot was added to)
    known_chats: dict[int | str, dict[str, Any]] = field(default_factory=dict)
    limits: RateLimits | None = None
    too_many: int = 0  # 429s answered because of `limits`
    base_url: str = ""
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _changed: asyncio.Condition | None = None
    _closing: bool = False  # set by stop(): long polls return at once
    _recent: deque[float] = field(default_factory=deque)
    _chat_recent: dict[int, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _runner: web.AppRunner | None = None

    # ---- test-side API -------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **update}
        self.updates.append(update)
        self._notify()
        return update

    def push_command(
        self,
        text: str,
        *,
        chat_id: int = 4242,
        user_id: int = 4242,
        chat_type: str = "private",
        title: str | None = None,
    ) -> dict[str, Any]:
        command = text.split()[0]
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Satoshi"
        else:
            chat["title"] = title or "Miners"
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": "Satoshi"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        }
        return self.push_update({"message": message})

    def push_callback(
        self,
        data: str,
        *,
        chat_id: int = 4242,
        user_id: int = 4242,
        message_id: int = 1,
        chat_type: str = "private",
        title: str | None = None,
    ) -> dict[str, Any]:
        """A user taps an inline button with ``data`` under the bot's message ``message_id``."""
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Satoshi"
        else:
            chat["title"] = title or "Miners"
        query = {
            "id": f"cbq-{next(self._message_ids)}",
            "from": {"id": user_id, "is_bot": False, "first_name": "Satoshi"},
            "chat_instance": f"ci-{chat_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat,
                "from": self._bot_user(),
                "text": "MinerWatch",
            },
        }
        return self.push_update({"callback_query": query})

    async def command(
        self, text: str, *, chat_id: int = 4242, user_id: int | None = None, chat_type: str = "private"
    ) -> str:
        """Send a command as a user and return the text of the bot's next message to that chat."""
        before = len(self.sent(chat_id=chat_id))
        self.push_command(
            text, chat_id=chat_id, user_id=chat_id if user_id is None else user_id, chat_type=chat_type
        )
        await self.wait_for(lambda: len(self.sent(chat_id=chat_id)) > before)
        return self.sent(chat_id=chat_id)[-1]["text"]

    def fail_next(
        self, method: str, status: int, body: dict[str, Any], *, chat_id: int | None = None, times: int = 1
    ) -> None:
        for _ in range(times):
            self.faults[method].append(Fault(status, body, chat_id))

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[dict[str, Any]]:
        """What Telegram accepted (answered 200): what users actually received."""
        return [c.params for c in self.attempts(method, chat_id) if c.status == 200]

    def attempts(self, method: str = "sendMessage", chat_id: int | None = None) -> list[Call]:
        """Every request, refused ones included."""
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or int(c.params.get("chat_id", 0) or 0) == chat_id)
        ]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (woken on every request), or fail after ``timeout``."""
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    # ---- server ----------------------------------------------------------------------------------

    async def start(self) -> str:
        self._closing = False
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self.base_url

    async def stop(self) -> None:
        # A long-polling getUpdates still open would hold the server's graceful shutdown for its
        # whole timeout (1 s a test): release it first.
        self._closing = True
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def _notify(self) -> None:
        if self._changed is None:
            return

        async def wake() -> None:
            assert self._changed is not None
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_event_loop().create_task(wake())

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = {"filename": value.filename, "size": len(value.file.read())}
            elif key in JSON_FIELDS:
                params[key] = json.loads(value)
            else:
                params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        if method != "getUpdates":
            self.calls.append(call)
            self._notify()
        fault = self._take_fault(method, params)
        if fault is not None:
            call.status = fault.status
            return web.json_response(fault.body, status=fault.status)
        if self.limits and method in ("sendMessage", "sendPhoto"):
            limited = self._rate_limited(int(params.get("chat_id", 0)))
            if limited is not None:
                self.too_many += 1
                call.status = 429
                return web.json_response(limited, status=429)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404
            )
        try:
            result = await handler(params)
        except ChatNotFound:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, status=400
            )
        return web.json_response({"ok": True, "result": result})

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        queue = self.faults.get(method)
        if not queue:
            return None
        chat = int(params.get("chat_id", 0) or 0)
        for i, fault in enumerate(queue):
            if fault.chat_id is None or fault.chat_id == chat:
                del queue[i]
                return fault
        return None

    def _rate_limited(self, chat_id: int) -> dict[str, Any] | None:
        assert self.limits is not None
        now = time.monotonic()
        window = self._recent
        while window and now - window[0] >= 1.0:
            window.popleft()
        chat_window = self._chat_recent[chat_id]
        span = 60.0 if chat_id < 0 else 1.0
        cap = self.limits.group_per_min if chat_id < 0 else self.limits.per_chat_per_s
        while chat_window and now - chat_window[0] >= span:
            chat_window.popleft()
        if len(window) >= self.limits.overall_per_s or len(chat_window) >= cap:
            ra = self.limits.retry_after_s
            return {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {ra}",
                "parameters": {"retry_after": ra},
            }
        window.append(now)
        chat_window.append(now)
        return None

    # ---- methods -----------------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "MinerWatch",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _message(self, chat_id: Any, **extra: Any) -> dict[str, Any]:
        cid = int(chat_id)
        chat_type = "private" if cid > 0 else ("channel" if str(cid).startswith("-100") else "group")
        chat: dict[str, Any] = {"id": cid, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "chat"
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self._bot_user(),
            **extra,
        }

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return self._bot_user()

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset", 0) or 0)
        while self.updates and self.updates[0]["update_id"] < offset:
            self.updates.popleft()  # confirmed by the offset
        if not self.updates:
            timeout = float(params.get("timeout", 0) or 0)
            assert self._changed is not None
            try:
                async with self._changed:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: bool(self.updates) or self._closing), min(timeout, 2)
                    )
            except TimeoutError:
                return []
        return [u for u in self.updates if u["update_id"] >= offset][:100]

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        return self._message(params["chat_id"], text=params.get("text", ""))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        photo = [{"file_id": "AgAD-fake", "file_unique_id": "fake1", "width": 1200, "height": 700}]
        return self._message(params["chat_id"], photo=photo, caption=params.get("caption"))

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        return self._message(params["chat_id"], text=params.get("text", ""))

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return self._message(params["chat_id"], text="", reply_markup=params.get("reply_markup"))

    async def _m_deleteMessage(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_pinChatMessage(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getChat(self, params: dict[str, Any]) -> Any:
        ref = params["chat_id"]
        # ASCII digits only: str.isdigit() accepts "²", which int() refuses (a 500 from the fake)
        key: int | str = int(ref) if re.fullmatch(r"-?[0-9]+", str(ref)) else str(ref)
        if key not in self.known_chats:
            raise ChatNotFound()
        return {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
            **self.known_chats[key],
        }

    async def _m_getChatAdministrators(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        return [
            {
                "status": "administrator",
                "user": {"id": uid, "is_bot": False, "first_name": "Admin"},
                **ADMIN_RIGHTS,
            }
            for uid in sorted(self.admins.get(chat_id, set()))
        ]

    async def _m_getChatMember(self, params: dict[str, Any]) -> Any:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = "administrator" if user_id in self.admins.get(chat_id, set()) else "member"
        member: dict[str, Any] = {
            "status": status,
            "user": {"id": user_id, "is_bot": False, "first_name": "U"},
        }
        if status == "administrator":
            member.update(ADMIN_RIGHTS)
        return member
