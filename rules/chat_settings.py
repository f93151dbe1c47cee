"""A chat's settings as one typed record: mute, snooze (whole chat and per rule), quiet hours with
their zone, fleet, power hub, pinned status, and the chat's display time zone.

Stored as JSON in ``chats.settings`` (the zone in its own column, ``chats.tz``). This module is the
one place that knows the JSON's keys: :meth:`ChatSettings.from_json` reads it (tolerating older or
partial rows: a key that is missing or unreadable is the default) and :meth:`ChatSettings.to_json`
writes it, omitting defaults so rows stay small and stable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rules.fleet import Fleet
from rules.quiet import QuietHours, zone_or_utc

_HHMM = "%H:%M"


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _quiet_from(raw: Any) -> QuietHours | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return QuietHours(
            start=datetime.strptime(raw["start"], _HHMM).time(),
            end=datetime.strptime(raw["end"], _HHMM).time(),
            tz=str(raw.get("tz") or "UTC"),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _fleet_from(raw: Any) -> Fleet | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return Fleet(
            efficiency_j_per_th=float(raw["efficiency_j_per_th"]),
            power_usd_per_kwh=float(raw["power_usd_per_kwh"]),
            hosting_usd_per_kwh=float(raw.get("hosting_usd_per_kwh") or 0.0),
            model=str(raw["model"]) if raw.get("model") else None,
            hashrate_ths=float(raw["hashrate_ths"]) if raw.get("hashrate_ths") else None,
            machines=int(raw["machines"]) if raw.get("machines") else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class ChatSettings:
    muted: bool = False
    snooze_until: datetime | None = None  # every alert of the chat dropped until then
    snooze_rules: Mapping[int, datetime] = field(default_factory=dict)  # rule id -> snoozed until
    quiet: QuietHours | None = None
    fleet: Fleet | None = None
    hub: str | None = None  # power settlement point for curtail, upper case ("HB_WEST")
    pinned_status: bool = False  # channels: keep one pinned status message edited in place
    pinned_message_id: int | None = None
    pinned_text: str | None = None  # what the pinned message says now (edit only on change)
    tz: str = "UTC"  # display zone (IANA); stored in chats.tz, not in the JSON
    # "resolved" notices for this chat: None follows the bot's [alerts] send_resolved, True/False
    # is the chat's own choice (/settings)
    send_resolved: bool | None = None
    paused_rules: frozenset[int] = frozenset()  # rule ids whose alerts are dropped until resumed

    @classmethod
    def from_json(cls, text: str | None, tz: str | None = None) -> ChatSettings:
        try:
            raw = json.loads(text or "{}")
        except ValueError:
            raw = {}
        if not isinstance(raw, Mapping):
            raw = {}
        snooze_rules: dict[int, datetime] = {}
        for key, until in (raw.get("snooze_rules") or {}).items():
            at = _when(until)
            if at is not None and str(key).isascii() and str(key).isdigit():
                snooze_rules[int(key)] = at
        pinned_id = raw.get("pinned_message_id")
        paused = raw.get("paused_rules")
        paused_rules = frozenset(
            p for p in (paused if isinstance(paused, list) else []) if type(p) is int and p > 0
        )
        return cls(
            muted=bool(raw.get("muted")),
            snooze_until=_when(raw.get("snooze_until")),
            snooze_rules=snooze_rules,
            quiet=_quiet_from(raw.get("quiet")),
            fleet=_fleet_from(raw.get("fleet")),
            hub=str(raw["hub"]).upper() if raw.get("hub") else None,
            pinned_status=bool(raw.get("pinned_status")),
            pinned_message_id=pinned_id if isinstance(pinned_id, int) else None,
            pinned_text=raw.get("pinned_text") if isinstance(raw.get("pinned_text"), str) else None,
            tz=tz or "UTC",
            send_resolved=raw["send_resolved"] if isinstance(raw.get("send_resolved"), bool) else None,
            paused_rules=paused_rules,
        )

    def to_json(self) -> str:
        out: dict[str, Any] = {}
        if self.muted:
            out["muted"] = True
        if self.snooze_until is not None:
            out["snooze_until"] = self.snooze_until.isoformat()
        if self.snooze_rules:
            out["snooze_rules"] = {str(k): v.isoformat() for k, v in sorted(self.snooze_rules.items())}
        if self.quiet is not None:
            out["quiet"] = {
                "start": self.quiet.start.strftime(_HHMM),
                "end": self.quiet.end.strftime(_HHMM),
                "tz": self.quiet.tz,
            }
        if self.fleet is not None:
            out["fleet"] = {
                "efficiency_j_per_th": self.fleet.efficiency_j_per_th,
                "power_usd_per_kwh": self.fleet.power_usd_per_kwh,
                "hosting_usd_per_kwh": self.fleet.hosting_usd_per_kwh,
            }
            for key in ("model", "hashrate_ths", "machines"):
                if getattr(self.fleet, key) is not None:
                    out["fleet"][key] = getattr(self.fleet, key)
        if self.hub:
            out["hub"] = self.hub
        if self.pinned_status:
            out["pinned_status"] = True
        if self.pinned_message_id is not None:
            out["pinned_message_id"] = self.pinned_message_id
        if self.pinned_text is not None:
            out["pinned_text"] = self.pinned_text
        if self.send_resolved is not None:
            out["send_resolved"] = self.send_resolved
        if self.paused_rules:
            out["paused_rules"] = sorted(self.paused_rules)
        return json.dumps(out, sort_keys=True)

    def changed(self, **changes: Any) -> ChatSettings:
        """A copy with ``changes`` applied (field names as above; None clears an optional field,
        False/empty clears a flag or map)."""
        for name in ("muted", "pinned_status"):
            if name in changes and changes[name] is None:
                changes[name] = False
        if "snooze_rules" in changes and changes["snooze_rules"] is None:
            changes["snooze_rules"] = {}
        if "paused_rules" in changes:
            changes["paused_rules"] = frozenset(changes["paused_rules"] or ())
        return replace(self, **changes)

    def zone(self) -> ZoneInfo:
        """The chat's display zone (``/tz``); UTC when the stored name is not a zone."""
        return zone_or_utc(self.tz)

    def rule_snoozed_until(self, rule_id: int) -> datetime | None:
        return self.snooze_rules.get(rule_id)

    def resolved_notices(self, default: bool) -> bool:
        """Whether this chat gets "resolved" notices: its own choice, else the bot's ``default``."""
        return default if self.send_resolved is None else self.send_resolved

    def rule_paused(self, rule_id: int) -> bool:
        return rule_id in self.paused_rules
