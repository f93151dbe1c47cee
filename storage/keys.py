"""Every idempotency key of the bot, in one place.

The outbox's primary key is one of these: a row is inserted with INSERT OR IGNORE, so a key that
already exists queues nothing. What a key names is therefore what is sent at most once, ever:

| key                     | one message per ...                                            |
|-------------------------|----------------------------------------------------------------|
| alert_transition        | rule × transition (firing, resolved, no data) × the moment the |
|                         | state began (rows queued before alert_crossing replaced it)    |
| event_announcement      | chat × event (``Event.key``: ``retarget:<height>``,            |
|                         | ``filing:<accession>``): the events table also records every   |
|                         | event once, so a pruned outbox never lets an old one through   |
|                         | ERCOT 4CP warnings use event keys ``4cp:<CPT date>:<stage>``   |
|                         | (stage forecast, actual or result; rules/fourcp.py builds them |
|                         | because watchers may not import storage): one per day and stage|
|                         | ``ercot.grid:<condition|prc>:<value>:<since>``: one per change |
|                         | of grid condition or PRC band; ``dam:<operating day>``: one    |
|                         | ``curtail tomorrow`` plan per chat and day                     |
| alert_crossing          | chat × condition (the rule minus ``!``, ``for`` and ``every``) |
|                         | × transition × the moment the crossing began: rules of one     |
|                         | chat with the same condition share it, so a crossing is one    |
|                         | message whichever of them fires (the severe one wins)          |
| data_back               | chat × condition × the no-data episode (its start)             |
| alert_group             | chat × group (an ERCOT interval, a source's outage) × the keys |
|                         | of its members, which are stored too (status ``grouped``)      |
| digest                  | chat × local date                                              |
| quiet_summary_page      | chat × the first held row it summarises × page                 |
| source_failing          | watcher × failure episode (its start) × admin                  |
| source_recovered        | the failing message it answers                                 |

Keys are hashed (32 hex characters) so that they are short, uniform and carry no user text.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime


def _hashed(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def alert_transition(rule_id: int, reason: str, began: datetime | str) -> str:
    return _hashed(rule_id, reason, began.isoformat() if isinstance(began, datetime) else began)


def alert_crossing(chat_id: int, condition: str, reason: str, began: datetime) -> str:
    return _hashed(chat_id, "crossing", condition, reason, began.isoformat())


def data_back(chat_id: int, condition: str, nodata_since: datetime | None, notified: datetime | None) -> str:
    since = nodata_since.isoformat() if nodata_since else ""
    return _hashed(chat_id, "data_back", condition, since, notified.isoformat() if notified else "")


def alert_group(chat_id: int, group: str, member_keys: list[str]) -> str:
    return _hashed(chat_id, "group", group, *sorted(member_keys))


def event_announcement(chat_id: int, event_key: str) -> str:
    return _hashed(chat_id, "event", event_key)


def digest(chat_id: int, local_date: date) -> str:
    return _hashed(chat_id, "digest", local_date.isoformat())


def quiet_summary_page(chat_id: int, first_held_key: str, page: int) -> str:
    return _hashed(chat_id, "quiet_summary", first_held_key, page)


def source_failing(watcher_id: str, since: datetime, admin: int) -> str:
    return _hashed("source_health", watcher_id, since.isoformat(), admin)


def source_recovered(failing_key: str) -> str:
    return _hashed("source_recovered", failing_key)
