"""Routing (Alertmanager's inhibit/silence and group steps): a chat's mute, snooze and quiet hours
decide whether an alert is sent now, held for the quiet-hours summary, or dropped; then it is
queued, together with everything else one pass of the engine decided (:func:`collecting`):

* Rules of one chat with the same condition (``!price < 50k`` and ``price < 50k for 10m``) share
  their message's key (storage/keys.py ``alert_crossing``): one message per crossing. The severe
  one wins: within a pass it is the one kept; after a held (quiet hours) twin it promotes that row.
* Messages of one chat in one group (an ERCOT interval, a source's outage or its return) become
  ONE message when there are two or more: the group's row (no rule_id) is sent; its members are
  stored with status ``grouped`` so their keys still guard against a second message.

Everything is written in the caller's transaction, so a crash keeps all of it or none of it."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from bot.delivery.messages import truncate
from rules.chat_settings import ChatSettings
from rules.quiet import in_quiet_hours
from storage import keys, outbox
from storage.rules import RuleRow

logger = logging.getLogger(__name__)


def delivery_status(settings: ChatSettings, rule_id: int, severe: bool, now: datetime) -> str | None:
    """How a chat wants this alert now: 'pending' (send), 'held' (quiet hours) or None (drop:
    muted, snoozed or the rule paused). Severe rules (written with a leading '!') pass quiet hours."""
    if settings.muted or settings.rule_paused(rule_id):
        return None
    if settings.snooze_until and now < settings.snooze_until:
        return None
    rule_until = settings.rule_snoozed_until(rule_id)
    if rule_until and now < rule_until:
        return None
    if settings.quiet and not severe and in_quiet_hours(settings.quiet, now):
        return outbox.HELD
    return outbox.PENDING


@dataclass(frozen=True, slots=True)
class Group:
    """What messages of one chat may be grouped under: ``key`` names it within a pass, ``title``
    is the grouped message's first line (HTML), ``joiner`` separates its members."""

    key: str
    title: str
    joiner: str = "\n\n"


@dataclass(slots=True)
class Candidate:
    """A message the engine decided to queue, before grouping."""

    key: str
    chat_id: int
    rule_id: int | None
    reason: str
    text: str
    priority: int
    status: str
    severe: bool = False
    group: Group | None = None
    brief: str | None = None  # the member's line in a grouped message (default: its whole text)


GROUPABLE_REASONS = frozenset({"firing", "repeat", "resolved"})
SOURCE_SEP = " · "  # an alert's last line: "<source link> · <code>rule</code>" (bot/delivery/messages.py)


@dataclass
class Batch:
    """The messages of one pass, flushed (deduplicated, grouped, written) at its end.
    ``default_group``: the group of this pass's rule alerts (an ERCOT interval)."""

    default_group: Group | None = None
    rows: list[Candidate] = field(default_factory=list)
    queued: int = 0

    def add(self, cand: Candidate) -> None:
        if cand.group is None and cand.rule_id is not None and cand.reason in GROUPABLE_REASONS:
            cand.group = self.default_group
        self.rows.append(cand)

    def flush(self, db: Database, now: datetime) -> int:
        rows, self.rows = self.rows, []
        queued = _write(db, rows, now)
        self.queued += queued
        return queued


_BATCH: ContextVar[Batch | None] = ContextVar("minerwatch_batch", default=None)


@contextmanager
def collecting(db: Database, now: datetime, default_group: Group | None = None) -> Iterator[Batch]:
    """Collect what queue_alert/submit queue until the block ends, then write it as one pass.
    Use inside the pass's transaction. Nested, the outer pass collects (and flushes) everything."""
    outer = _BATCH.get()
    if outer is not None:
        yield outer
        return
    batch = Batch(default_group)
    token = _BATCH.set(batch)
    try:
        yield batch
    finally:
        _BATCH.reset(token)
    batch.flush(db, now)  # not reached on an exception: the transaction rolls back anyway


def submit(db: Database, cands: Sequence[Candidate], now: datetime) -> int:
    """Queue ``cands``: into the open pass if there is one (returns how many were handed over),
    else at once (returns how many rows will be sent)."""
    batch = _BATCH.get()
    if batch is None:
        return _write(db, list(cands), now)
    for cand in cands:
        batch.add(cand)
    return len(cands)


def _better(a: Candidate, b: Candidate) -> Candidate:
    """Of two messages with one key (twin rules, one crossing): the one sent now, then the severe."""
    rank_a = (a.status == outbox.PENDING, a.severe)
    rank_b = (b.status == outbox.PENDING, b.severe)
    return b if rank_b > rank_a else a


def _write(db: Database, cands: list[Candidate], now: datetime) -> int:
    """Deduplicate, promote, group and insert one pass's messages; returns the rows to be sent."""
    by_key: dict[str, Candidate] = {}
    for cand in cands:
        known = by_key.get(cand.key)
        by_key[cand.key] = cand if known is None else _better(known, cand)
    existing = outbox.statuses(db, list(by_key))
    fresh: list[Candidate] = []
    queued = 0
    for key, cand in by_key.items():
        status = existing.get(key)
        if status is None:
            fresh.append(cand)
        elif status == outbox.HELD and cand.status == outbox.PENDING:
            # the crossing's twin was held for quiet hours; the severe one goes now, in its words
            queued += outbox.promote_held(db, key, cand.rule_id, cand.text, now)
    groups: dict[tuple[int, str], list[Candidate]] = {}
    rows: list[outbox.OutboxRow] = []
    for cand in fresh:
        if cand.group is not None and cand.status == outbox.PENDING:
            groups.setdefault((cand.chat_id, cand.group.key), []).append(cand)
        else:
            rows.append(_row(cand, cand.status))
    for (chat_id, group_key), members in groups.items():
        if len(members) == 1:
            rows.append(_row(members[0], members[0].status))
            continue
        group = members[0].group
        assert group is not None
        body = _group_body(group, members)
        rows.append(
            (
                keys.alert_group(chat_id, group_key, [m.key for m in members]),
                chat_id,
                None,  # a grouped message belongs to no single rule (no per-rule buttons)
                "grouped",
                truncate(f"{group.title}\n{body}"),
                min(m.priority for m in members),
                outbox.PENDING,
            )
        )
        rows += [_row(m, outbox.GROUPED) for m in members]
        logger.info("grouped chat=%s group=%s members=%d", chat_id, group_key, len(members))
    outbox.enqueue_many(db, rows, now)
    queued += sum(1 for r in rows if r[6] != outbox.GROUPED)
    if len(rows) <= 20:  # a mass firing logs one line, not one per chat
        for r in rows:
            logger.info("queued chat=%s rule=%s reason=%s status=%s", r[1], r[2], r[3], r[6])
    else:
        logger.info("queued %d alerts (%d grouped messages)", queued, len(groups))
    return queued


def _group_body(group: Group, members: list[Candidate]) -> str:
    """The members' lines under the group's title. The source all members name on their last line
    (``<a href=…>ERCOT</a> · <code>rule</code>``: one interval, one source) is said once, at the
    end, and each member keeps its rule."""
    parts = [(m.brief or m.text).split("\n") for m in members]
    heads = {p[-1].split(SOURCE_SEP, 1)[0] for p in parts if SOURCE_SEP in p[-1]}
    source = ""
    if len(heads) == 1 and all(SOURCE_SEP in p[-1] and len(p) > 1 for p in parts):
        source = heads.pop()
        parts = [[*p[:-1], p[-1].split(SOURCE_SEP, 1)[1]] for p in parts]
    body = group.joiner.join("\n".join(p) for p in parts)
    return f"{body}\n{source}" if source else body


def _row(cand: Candidate, status: str) -> outbox.OutboxRow:
    return (cand.key, cand.chat_id, cand.rule_id, cand.reason, cand.text, cand.priority, status)


def queue_alert(
    db: Database,
    row: RuleRow,
    key: str,
    reason: str,
    text: str,
    severe: bool,
    now: datetime,
    *,
    group: Group | None = None,
    brief: str | None = None,
) -> int:
    status = delivery_status(row.settings, row.id, severe, now)
    if status is None:
        logger.info("dropped chat=%s rule=%s reason=%s (muted, snoozed, paused)", row.chat_id, row.id, reason)
        return 0
    cand = Candidate(
        key,
        row.chat_id,
        row.id,
        reason,
        text,
        outbox.priority_for(row.chat_type),
        status,
        severe,
        group,
        brief,
    )
    return submit(db, [cand], now)
