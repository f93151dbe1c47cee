"""Issue 13 items 9, 12, 13 and 14 as a user meets them, through the real application and the fake
Bot API: a pointer to /help when nothing matches, /help generated from the catalogue and filtered
for a group's members, the welcome when a group adds the bot, the preset keyboard's ✓ marks and
layout, links to a public explorer when the data comes from a LAN mempool, and filing lines that
say whether the option is in the principal."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.app import create_services
from bot.delivery.filing_messages import filing_message
from bot.delivery.messages import alert_message
from bot.handlers.commands import HELP, help_text
from bot.handlers.membership import group_welcome
from bot.handlers.presets import PAIR_MAX_CHARS, PRESETS
from bot.settings import ConfigError, load_settings
from rules.catalogue import CATALOGUE, EQUITY_FAMILIES, PRODUCTION_FAMILIES
from rules.grammar import parse_rule
from rules.model import Reason
from storage import rules as rule_store
from tests.conftest import FIXTURES
from tests.fake_telegram import ADMIN_RIGHTS, BOT_ID, BOT_USERNAME, FakeTelegram
from tests.harness import FakeClock, bot_settings, running_bot, write_config
from watchers.filings.analyse import analyse_filing
from watchers.filings.model import KINDS
from watchers.filings.summary import summary_line

CHAT = 6161
GROUP = -100888
ADMIN, MEMBER = 71, 72
FILINGS = FIXTURES / "filings"
LABELS: list[dict[str, Any]] = json.loads((FILINGS / "LABELS.json").read_text())


@pytest.fixture
async def bot(tmp_path: Path, tg: FakeTelegram):
    tg.admins[GROUP] = {ADMIN}
    settings = bot_settings(
        tmp_path,
        tg,
        {
            "watchers.power": {"enabled": True},
            "watchers.filings": {"enabled": True},
            "sources.edgar": {"user_agent": "MinerWatch tests ops@example.com"},
        },
    )
    async with running_bot(settings, FakeClock()) as (app, svc):
        yield tg, app, svc


def push_text(
    tg: FakeTelegram,
    text: str,
    *,
    chat_id: int,
    user_id: int,
    chat_type: str = "private",
    is_bot: bool = False,
) -> None:
    """A plain message (no command entity), as Telegram sends chatter."""
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    chat.update({"first_name": "Satoshi"} if chat_type == "private" else {"title": "Miners"})
    message = {
        "message_id": int(time.time() * 1000) % 1_000_000,
        "date": int(time.time()),
        "chat": chat,
        "from": {"id": user_id, "is_bot": is_bot, "first_name": "Satoshi"},
        "text": text,
    }
    tg.push_update({"message": message})


async def answers(tg: FakeTelegram, chat_id: int, send: Any, *, user_id: int, chat_type: str) -> list[str]:
    """What the bot said to ``send`` (a callable pushing one update), read after a /help barrier:
    one chat's updates are handled in order, so once /help is answered the update before it was
    handled too."""
    before = len(tg.sent(chat_id=chat_id))
    send()
    help_cmd = "/help" if chat_type == "private" else f"/help@{BOT_USERNAME}"
    tg.push_command(help_cmd, chat_id=chat_id, user_id=user_id, chat_type=chat_type)
    await tg.wait_for(lambda: any("<b>Commands</b>" in m["text"] for m in tg.sent(chat_id=chat_id)[before:]))
    said = [m["text"] for m in tg.sent(chat_id=chat_id)[before:]]
    return [t for t in said if "<b>Commands</b>" not in t]


# ---- item 9: a pointer to /help when nothing matches -----------------------------------------------


async def test_unknown_command_in_a_private_chat_points_to_help(bot):
    tg, _app, _svc = bot

    def send(text: str) -> Any:
        return lambda: tg.push_command(text, chat_id=CHAT, user_id=CHAT)

    (said,) = await answers(tg, CHAT, send("/frobnicate now"), user_id=CHAT, chat_type="private")
    assert said == "❓ Unknown command <code>/frobnicate</code>. /help lists them all."
    (said,) = await answers(tg, CHAT, send("/alrts"), user_id=CHAT, chat_type="private")
    assert "Did you mean /alerts?" in said and said.count("\n") == 0  # one line
    # a real command is answered by its handler only: no pointer after it
    assert await answers(tg, CHAT, send("/alerts"), user_id=CHAT, chat_type="private") == [
        "No alerts yet. Add one: <code>/alert difficulty.next_change &gt; 3%</code>"
    ]
    # addressed to another bot: not ours to answer, even in private
    assert await answers(tg, CHAT, send("/frobnicate@OtherBot"), user_id=CHAT, chat_type="private") == []


async def test_unknown_command_in_a_group_only_when_addressed_to_this_bot(bot):
    tg, _app, _svc = bot

    def send(text: str) -> Any:
        return lambda: tg.push_command(text, chat_id=GROUP, user_id=MEMBER, chat_type="supergroup")

    kw = {"user_id": MEMBER, "chat_type": "supergroup"}
    (said,) = await answers(tg, GROUP, send(f"/frobnicate@{BOT_USERNAME}"), **kw)
    assert said == f"❓ Unknown command <code>/frobnicate</code>. /help@{BOT_USERNAME} lists them all."
    assert await answers(tg, GROUP, send("/rank@OtherBot"), **kw) == []  # another bot's
    assert await answers(tg, GROUP, send("/rank"), **kw) == []  # bare: may be another bot's
    (said,) = await answers(tg, GROUP, send("/alrts"), **kw)  # bare but a near miss of ours
    assert "Did you mean /alerts?" in said


async def test_plain_text_gets_a_pointer_only_in_a_private_chat(bot):
    tg, _app, _svc = bot
    (said,) = await answers(
        tg,
        CHAT,
        lambda: push_text(tg, "hashprice?", chat_id=CHAT, user_id=CHAT),
        user_id=CHAT,
        chat_type="private",
    )
    assert said == "I only answer commands: /help lists them."
    kw = {"user_id": MEMBER, "chat_type": "supergroup"}
    chatter = lambda: push_text(tg, "gm miners", chat_id=GROUP, **kw)  # noqa: E731
    assert await answers(tg, GROUP, chatter, **kw) == []
    from_a_bot = lambda: push_text(tg, "beep", chat_id=CHAT, user_id=BOT_ID, is_bot=True)  # noqa: E731
    assert await answers(tg, CHAT, from_a_bot, user_id=CHAT, chat_type="private") == []


async def test_help_lists_generated_metric_names_and_filing_kinds(bot):
    tg, _app, _svc = bot
    text = await tg.command("/help", chat_id=CHAT)
    assert text == HELP and len(text) <= 4096
    per = ("power", "dam", "stock", "debt", *EQUITY_FAMILIES, *PRODUCTION_FAMILIES)
    for name in CATALOGUE:  # every metric, by name or by its family's placeholder
        family = name.split(".")[0]
        if family in per and "." in name:
            assert f"{family}.&lt;" in text, name
        else:
            assert name in text, name
    assert all(kind in text for kind in KINDS)  # the classifier's own kinds
    assert "rises|drops N% in WINDOW" in text
    assert "<code>hosting</code>" in text and "<code>hub</code>" in text


async def test_help_in_a_group_shows_members_what_they_may_use(bot):
    tg, _app, _svc = bot

    async def group_help(user_id: int) -> str:
        before = len(tg.sent(chat_id=GROUP))
        tg.push_command(f"/help@{BOT_USERNAME}", chat_id=GROUP, user_id=user_id, chat_type="supergroup")
        await tg.wait_for(lambda: len(tg.sent(chat_id=GROUP)) > before)
        return tg.sent(chat_id=GROUP)[-1]["text"]

    member = await group_help(MEMBER)
    assert member == help_text(admin=False)
    assert "\n/alert <i>rule</i>" not in member and "\n/fleet " not in member and "<b>Rules</b>" not in member
    assert "Only this group's administrators can use /alert, /delete, /fleet" in member
    assert "\n/status" in member and "\n/chart" in member and "<b>Metrics</b>" in member
    admin = await group_help(ADMIN)
    assert admin == HELP and "\n/alert <i>rule</i>" in admin


async def test_refused_rules_show_the_example_as_code_in_the_failed_commands_form(bot):
    tg, _app, svc = bot
    said = await tg.command("/alert hashprise < 45", chat_id=CHAT)
    assert "Did you mean: <code>hashprice</code>, " in said
    assert "Example: <code>/alert hashprice &lt; 45</code>" in said
    assert await svc.db(rule_store.list_rules, CHAT) == []


# ---- item 12: a polite join, a preset keyboard that fits a phone and shows what is set ------------


def my_chat_member(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "telegram" / f"my_chat_member.{name}.2025-01-19.json").read_text())


@pytest.mark.parametrize("name", ["supergroup-bot-added", "basic-group-bot-added"])
async def test_a_group_that_adds_the_bot_is_welcomed_with_the_real_username(bot, name):
    tg, app, _svc = bot
    update = my_chat_member(name)  # recorded from Telegram: old status "left", new "member"
    chat_id = update["my_chat_member"]["chat"]["id"]
    await app.process_update(Update.de_json({"update_id": 1, **update}, app.bot))
    (welcome,) = [m["text"] for m in tg.sent(chat_id=chat_id)]
    assert welcome == group_welcome(BOT_USERNAME)
    assert f"<code>/alert@{BOT_USERNAME} hashprice &lt; 45</code>" in welcome
    assert f"/help@{BOT_USERNAME}" in welcome and len(welcome) < 400


async def test_no_welcome_for_a_promotion_or_a_private_chat(bot):
    tg, app, _svc = bot
    update = my_chat_member("supergroup-bot-added")
    change = update["my_chat_member"]
    promoted = {
        **change,
        "old_chat_member": change["new_chat_member"],  # already a member: made administrator
        "new_chat_member": {
            "status": "administrator",
            "user": change["new_chat_member"]["user"],
            **ADMIN_RIGHTS,
        },
    }
    await app.process_update(Update.de_json({"update_id": 2, "my_chat_member": promoted}, app.bot))
    unblocked = my_chat_member("private-user-unblocked-bot")
    await app.process_update(Update.de_json({"update_id": 3, **unblocked}, app.bot))
    assert tg.sent() == []


async def test_preset_keyboard_marks_what_the_chat_has_and_fits_a_phone(bot):
    tg, _app, _svc = bot
    keyboard = await start_keyboard(tg)
    labels = [b["text"] for row in keyboard for b in row]
    assert [len(row) for row in keyboard] == [2, 2, 2]  # six short labels, two a row
    assert not any(label.startswith("✓") for label in labels)
    assert all(len(label) <= PAIR_MAX_CHARS for label in labels)

    await tg.command("/alert retarget", chat_id=CHAT)
    await tg.command("/alert hashprice < 41", chat_id=CHAT)  # another threshold than the preset's
    await tg.command("/alert difficulty.next_change > 3%", chat_id=CHAT)  # half of a two-rule preset
    keyboard = await start_keyboard(tg)
    marked = {b["callback_data"] for row in keyboard for b in row if b["text"].startswith("✓ ")}
    assert marked == {"preset:retarget", "preset:hashprice_low"}

    # a tap sets the preset and redraws the tapped keyboard with its mark
    tg.push_callback("preset:difficulty_3pct", chat_id=CHAT, user_id=CHAT, message_id=77)
    await tg.wait_for(lambda: bool(tg.sent("editMessageReplyMarkup", chat_id=CHAT)))
    (edit,) = tg.sent("editMessageReplyMarkup", chat_id=CHAT)
    assert int(edit["message_id"]) == 77
    redrawn = {
        b["callback_data"]
        for row in edit["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"][0] == "✓"
    }
    assert redrawn == {"preset:retarget", "preset:hashprice_low", "preset:difficulty_3pct"}


async def start_keyboard(tg: FakeTelegram) -> list[list[dict[str, Any]]]:
    before = len(tg.sent(chat_id=CHAT))
    tg.push_command("/start", chat_id=CHAT, user_id=CHAT)
    await tg.wait_for(lambda: len(tg.sent(chat_id=CHAT)) > before)
    return tg.sent(chat_id=CHAT)[-1]["reply_markup"]["inline_keyboard"]


def test_a_long_label_gets_a_row_of_its_own():
    from bot.handlers.presets import rows

    assert rows(["short", "x" * (PAIR_MAX_CHARS + 1), "a", "b", "c"]) == [[0], [1], [2, 3], [4]]
    assert len(PRESETS) == 6


# ---- item 13: links that work for everyone ----------------------------------------------------------


def test_a_lan_mempool_links_to_the_public_explorer(tmp_path):
    lan = {
        "storage": {"path": str(tmp_path / "d.db")},
        "sources.mempool": {"base_url": "http://umbrel.local:3006"},
    }
    settings = load_settings(write_config(tmp_path / "c.toml", lan))
    svc = create_services(settings, watchers=[])
    try:
        assert svc.links["mempool"] == "https://mempool.space/mining"  # the default explorer
        text = alert_message(
            rule=parse_rule("hashprice < 45"), reason=Reason.FIRING, value=43.2, snapshot={},
            source="mempool", links=svc.links, rule_text="hashprice < 45",
        )  # fmt: skip
        assert 'href="https://mempool.space/mining"' in text and "umbrel" not in text
    finally:
        svc.db.close()
    own = {**lan, "links": {"explorer_url": "https://explorer.example.org/"}}
    settings = load_settings(write_config(tmp_path / "c2.toml", own))
    svc = create_services(settings, watchers=[])
    try:
        assert svc.links["mempool"] == "https://explorer.example.org/mining"
    finally:
        svc.db.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://umbrel.local:3006",
        "http://192.168.1.20:8080",
        "http://localhost:3006",
        "http://mempool",
        "ftp://x.org",
    ],
)
def test_a_lan_explorer_url_is_refused_at_start(tmp_path, url):
    cfg = write_config(tmp_path / "c.toml", {"links": {"explorer_url": url}})
    with pytest.raises(ConfigError, match=r"links\.explorer_url"):
        load_settings(cfg)


# ---- item 14: filing lines read right ---------------------------------------------------------------


def real_filing(prefix: str) -> tuple[dict[str, Any], Any]:
    label = next(lab for lab in LABELS if lab["file"].startswith(prefix))
    text = (FILINGS / label["file"]).read_bytes().decode("utf-8")
    return label, analyse_filing(text, form=label["form"].split()[0], items=label["items"] or ())


@pytest.mark.parametrize(
    ("prefix", "wording"),
    [
        # "$1 billion, which includes $150 million ... issued pursuant to an option": part of the principal
        ("mara-8k-2024-11-21", "$1B convertible notes due 2030, incl. $150M option"),
        # "an option to purchase ... up to an additional $100 million": on top of the $550M
        ("mstr-8k-2020-12-09", "$550M convertible notes due 2025, +$100M option"),
        # "a 30-day option to purchase up to $180 million of additional shares": on top
        ("pcg-424b5-2024-12-02", "$1.2B equity offering, +$180M option"),
    ],
)
def test_option_wording_follows_the_filing(prefix, wording):
    label, info = real_filing(prefix)
    line = summary_line(
        company=label["company"], ticker=label["ticker"], form="8-K", info=info,
        filed_at=datetime(2024, 11, 21, 21, 30, tzinfo=UTC),
    )  # fmt: skip
    assert wording in line
    assert ("incl." in line) != ("+$" in line)


def test_the_filing_alert_says_its_title_once():
    label, info = real_filing("mara-8k-2024-11-21")
    data = {
        "company": label["company"], "ticker": "MARA", "form": "8-K", "kind": info.kind,
        "terms": info.terms, "filed_at": "2024-11-21T21:30:00+00:00", "url": "https://www.sec.gov/x?a=1&b=2",
        "summary": "(built for older events)",
    }  # fmt: skip
    text = filing_message(data)
    title, below = text.split("\n")
    assert title == (
        "📄 <b>MARA Holdings, Inc. (MARA): $1B convertible notes due 2030, incl. $150M option, 0%, "
        "conv. $25.91</b>"
    )
    assert (
        below
        == '8-K · filed 2024-11-21 16:30 ET · <a href="https://www.sec.gov/x?a=1&amp;b=2">filing index</a>'
    )
    assert text.count("convertible notes") == 1
    # an event stored before: its summary, the kind only when the summary lacks it
    old = filing_message({"summary": "MARA · 8-K · $1B convertible notes", "kind": "convertible_notes"})
    assert old.count("convertible notes") == 1
