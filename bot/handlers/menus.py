"""The command menus Telegram shows, one per scope (set_my_commands)."""

from __future__ import annotations

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

# The command menus, one per scope (set_my_commands): everything in private chats; in groups the
# read-only commands for members and the full list for the group's administrators.
_COMMANDS = {
    "alert": "add an alert, e.g. difficulty.next_change > 3%",
    "alerts": "list this chat's alerts",
    "delete": "delete alerts: /delete 2 5 7, 3-9 or all",
    "status": "the current numbers",
    "chart": "chart a metric, e.g. hashprice 30d",
    "fleet": "set your fleet: J/TH and USD/kWh",
    "snooze": "pause alerts for a while",
    "quiet": "set quiet hours",
    "mute": "stop all alerts in this chat",
    "unmute": "resume alerts in this chat",
    "tz": "time zone for times shown here",
    "settings": "all of this chat's settings, with buttons",
    "filings": "latest financing filings",
    "stock": "a miner's stock vs its convertibles, e.g. MARA",
    "4cp": "ERCOT 4CP: month's load peaks, today's forecast",
    "dam": "ERCOT day-ahead: hours to curtail tomorrow",
    "miner": "a miner's production, treasury and AI/HPC card, e.g. MARA",
    "miners": "league table of the miners, e.g. held",
    "debt": "miners' debt from their filings, e.g. MARA",
    "help": "all commands with examples",
}
PRIVATE_MENU = [BotCommand(name, text) for name, text in _COMMANDS.items()]
GROUP_ADMIN_MENU = PRIVATE_MENU
_READ_ONLY = ("alerts", "status", "chart", "filings", "stock", "debt", "miner", "miners", "help")
GROUP_MENU = [BotCommand(n, _COMMANDS[n]) for n in _READ_ONLY]
MENUS = (
    (PRIVATE_MENU, BotCommandScopeAllPrivateChats()),
    (GROUP_MENU, BotCommandScopeAllGroupChats()),
    (GROUP_ADMIN_MENU, BotCommandScopeAllChatAdministrators()),
)


async def register_menus(bot: Bot) -> None:
    for commands_, scope in MENUS:
        await bot.set_my_commands(commands_, scope=scope)
