"""The rules and alert states of observed metrics, kept in memory by metric (issue 17).

A poll used to read every rule on its metric from the database, evaluate it and upsert its state,
all on the one database thread: at 100,000 rules that held the thread for 20 s and every command
waited behind it. Here the rules of a metric are loaded once (in pages, so commands interleave),
evaluated in the event loop in slices with the pure engine (rules/evaluate.py), and only real
transitions go back to the database, with one executemany, in the poll's own transaction.

In step with the database: triggers (migration m011_load_rule_changes) log every rule added,
deleted or moved and every change of a chat's settings, zone, type or activity, whatever code path
made it (/alert, /delete, presets, channel config, membership, migration). :meth:`RuleCache.sync`
applies the log before each evaluation; the write of a poll drops what a rule deleted meanwhile
would have written. Alert states are the database's: they are read on load and changed in memory
only after the transaction that wrote them committed. A restart starts empty and loads again.

The methods taking ``db`` run on the database thread (through DbWorker); the rest in the event
loop. The pipeline's lock keeps them from overlapping.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from sqlite_utils import Database

from bot.engine.dbworker import DbWorker
from bot.engine.routing import Candidate, delivery_status, submit
from bot.engine.rule_eval import (
    IngestOptions,
    alert_text,
    cached_rule,
    data_back,
    nodata_group,
    transition_key,
)
from rules.chat_settings import ChatSettings
from rules.evaluate import evaluate
from rules.model import AlertState, ChangeRule, Decision, Reason, Rule, ThresholdRule
from rules.quiet import zone_or_utc
from storage import alerts, outbox
from storage import rules as rule_store
from storage.rules import ChatRow, JudgedRow

logger = logging.getLogger(__name__)

INITIAL = AlertState()  # shared by every rule that never left "ok": most of a million
JUDGED_KINDS = frozenset({"threshold", "change"})
# Metrics derived per chat (bot/engine/fleet.py) stay on their own path: never cached.
PER_CHAT_METRICS = frozenset({"breakeven", "margin", "profit", "curtail.margin"})
PAGE = 5_000  # rules loaded per database call (a command waits for one page at most)
# Rules evaluated between two looks at the clock, and the most time spent between two yields to
# the event loop: a command's reply takes some dozens of loop turns (update, handler, database,
# HTTP), each waits one turn at most, whatever else shares the CPU.
SLICE = 128
TURN_S = 0.002


class Entry:
    """One judged rule: its id, chat, canonical text, parsed rule and current alert state."""

    __slots__ = ("chat_id", "id", "rule", "state", "text")

    def __init__(self, rule_id: int, chat_id: int, text: str, rule: Rule, state: AlertState) -> None:
        self.id = rule_id
        self.chat_id = chat_id
        self.text = text
        self.rule = rule
        self.state = state


@dataclass(slots=True)
class ChatInfo:
    type: str | None
    settings: ChatSettings
    active: bool


@dataclass
class Judged:
    """What evaluating some metrics decided: states to write and messages to queue, both already
    serialised so the database thread only runs two executemany. Written in the poll's
    transaction by :meth:`write`, then applied to memory by :meth:`apply`."""

    seq: int  # the change log position the evaluation saw
    metrics: set[str] = field(default_factory=set)  # the metrics evaluated here (ingest skips them)
    transitions: list[tuple[Entry, AlertState, str]] = field(default_factory=list)  # with its JSON
    messages: list[Candidate] = field(default_factory=list)
    dropped: int = 0  # muted or snoozed: decided, not queued
    evaluated: int = 0
    written: int = 0

    def write(self, db: Database, now: datetime) -> int:
        """Inside the caller's transaction: drop what rules deleted or moved since the evaluation
        would have written, write the transitions and queue the messages, one executemany each.
        Returns how many messages it queued."""
        _, changed, _ = rule_store.rule_changes_since(db, self.seq)
        if changed:
            self.transitions = [t for t in self.transitions if t[0].id not in changed]
            self.messages = [m for m in self.messages if m.rule_id not in changed]
        self.written = alerts.put_states(db, [(e.id, js) for e, _, js in self.transitions], now)
        # through routing: twin rules deduplicated, an ERCOT interval's alerts grouped, as on the
        # database path (bot/engine/rule_eval.py)
        queued = submit(db, self.messages, now)
        if queued or self.dropped:
            logger.info("queued %d alerts (%d dropped: muted or snoozed)", queued, self.dropped)
        return queued

    def apply(self) -> None:
        """After the commit: memory follows what the database now holds."""
        for entry, state, _ in self.transitions:
            entry.state = INITIAL if state == INITIAL else state


class RuleCache:
    def __init__(self, page: int = PAGE, slice_size: int = SLICE) -> None:
        self.page = page
        self.slice_size = slice_size
        self.by_metric: dict[str, dict[int, Entry]] = {}
        self.chats: dict[int, ChatInfo] = {}
        self.loaded: set[str] = set()  # metrics whose every rule is here
        self.seq: int | None = None
        self._texts: dict[str, tuple[str, Rule]] = {}  # one string and one parsed rule per text
        self._states: dict[str, AlertState] = {}  # while loading: one object per stored state

    # ---- database thread ----------------------------------------------------------------------

    def owns(self, metric: str) -> bool:
        return metric not in PER_CHAT_METRICS and not metric.startswith("event:")

    def sync(self, db: Database) -> int:
        """Apply the change log; return the position evaluated against."""
        if self.seq is None:
            self.seq = rule_store.rule_change_seq(db)
            return self.seq
        newest, rule_ids, chat_ids = rule_store.rule_changes_since(db, self.seq)
        if rule_ids:
            found = {r[0]: r for r in rule_store.judged_rules_by_ids(db, sorted(rule_ids))}
            for rule_id in rule_ids:
                self._drop(rule_id)
                row = found.get(rule_id)
                if row is not None and row[4] in JUDGED_KINDS and row[3] in self.loaded:
                    self._put(row)
            self._load_chats(db, {r[1] for r in found.values()})
        if chat_ids:
            self._load_chats(db, chat_ids, refresh=True)
        if newest > self.seq:
            rule_store.prune_rule_changes(db, newest)
        self.seq = newest
        return newest

    async def load(self, call: DbWorker, metric: str) -> None:
        """Load every rule on ``metric``: a page per database call (only the fetch runs on the
        database thread), the objects made in the event loop in slices, so commands interleave."""
        after = 0
        while True:
            rows = await call(rule_store.judged_rules_page, metric, after, self.page)
            turn = time.perf_counter()
            for start in range(0, len(rows), self.slice_size):
                for row in rows[start : start + self.slice_size]:
                    self._put(row)
                if time.perf_counter() - turn >= TURN_S:
                    await asyncio.sleep(0)
                    turn = time.perf_counter()
            missing = sorted({r[1] for r in rows if r[1] not in self.chats})
            if missing:
                self._put_chats(missing, await call(rule_store.chats_by_ids, missing))
            # A million long-lived objects make every full garbage collection a pause of a second
            # for everyone (commands included): move what is loaded out of the collector's sight.
            # Reference counting still frees them; only reference cycles among them would linger.
            gc.freeze()
            if len(rows) < self.page:
                break
            after = rows[-1][0]
        self.by_metric.setdefault(metric, {})
        self.loaded.add(metric)
        self._states.clear()

    def _put(self, row: JudgedRow) -> None:
        rule_id, chat_id, text, metric, _, state_json = row
        shared = self._texts.get(text)
        if shared is None:
            shared = self._texts[text] = (text, cached_rule(text))
        state = INITIAL
        if state_json:
            # equal states (rules that resolved in the same poll) are one object: a million
            # rules with states of their own stay small
            known = self._states.get(state_json)
            if known is None:
                known = AlertState.from_dict(json.loads(state_json))
                known = self._states[state_json] = INITIAL if known == INITIAL else known
            state = known
        entry = Entry(rule_id, chat_id, shared[0], shared[1], state)
        self.by_metric.setdefault(metric, {})[rule_id] = entry

    def _drop(self, rule_id: int) -> None:
        for entries in self.by_metric.values():  # a handful of metrics: no reverse map to keep
            entries.pop(rule_id, None)

    def entry(self, rule_id: int) -> Entry | None:
        for entries in self.by_metric.values():
            found = entries.get(rule_id)
            if found is not None:
                return found
        return None

    def _load_chats(self, db: Database, ids: set[int], *, refresh: bool = False) -> None:
        wanted = sorted(ids if refresh else {i for i in ids if i not in self.chats})
        if wanted:
            self._put_chats(wanted, rule_store.chats_by_ids(db, wanted))

    def _put_chats(self, wanted: list[int], rows: list[ChatRow]) -> None:
        found = set()
        for chat_id, chat_type, settings, tz, active in rows:
            found.add(chat_id)
            self.chats[chat_id] = ChatInfo(chat_type, ChatSettings.from_json(settings, tz), bool(active))
        for chat_id in set(wanted) - found:
            self.chats.pop(chat_id, None)  # deleted: its rules are skipped

    # ---- event loop ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(len(entries) for entries in self.by_metric.values())

    async def evaluate(
        self,
        judged: Judged,
        metric: str,
        value: float | None,
        source: str,
        snapshot: Mapping[str, float],
        now: datetime,
        opts: IngestOptions,
        references: Mapping[int, float | None],
        *,
        stale_since: datetime | None = None,
    ) -> None:
        """Evaluate every rule on ``metric`` into ``judged``, yielding to the event loop between
        slices so commands are answered meanwhile. ``references`` maps a change rule's window
        (seconds) to the metric's value that long ago."""
        judged.metrics.add(metric)
        judged.metrics.add(metric)
        entries = list(self.by_metric.get(metric, {}).values())
        memo: dict[str, Decision] = {}  # rules with the same text in the initial state decide alike
        serialised: dict[int, str] = {}  # state JSON, once per state object (memo shares them)
        # a message, once per text, zone, reason and (for a resolve: how long it fired) start
        texts: dict[tuple[str, str, Reason, datetime | None], str] = {}
        nodata_after = opts.stale_after_s
        chats = self.chats
        turn = time.perf_counter()
        for start in range(0, len(entries), self.slice_size):
            for entry in entries[start : start + self.slice_size]:
                chat = chats.get(entry.chat_id)
                if chat is None or not chat.active:
                    continue
                state = entry.state
                decision = memo.get(entry.text) if state is INITIAL else None
                if decision is None:
                    rule = entry.rule
                    assert isinstance(rule, ThresholdRule | ChangeRule)
                    reference = references.get(rule.window_s) if isinstance(rule, ChangeRule) else None
                    decision = evaluate(
                        rule,
                        state,
                        value,
                        now,
                        reference=reference,
                        stale_since=stale_since,
                        nodata_after_s=nodata_after,
                    )
                    if state is INITIAL:
                        memo[entry.text] = decision
                new = decision.state
                if new is not state and new != state:
                    js = serialised.get(id(new))
                    if js is None:
                        js = serialised[id(new)] = alerts.state_json(new.to_dict())
                    judged.transitions.append((entry, new, js))
                if state.nodata_notified and value is not None:
                    back = self._data_back(entry, chat, state, decision, value, source, now)
                    if back is not None:
                        judged.messages.append(back)
                unwanted = decision.reason is Reason.RESOLVED and not chat.settings.resolved_notices(
                    opts.send_resolved
                )
                if not decision.notify or unwanted:
                    continue
                status = delivery_status(chat.settings, entry.id, entry.rule.severe, now)
                if status is None:
                    judged.dropped += 1
                    continue
                began = state.since if decision.reason is Reason.RESOLVED else None
                text_key = (entry.text, chat.settings.tz, decision.reason, began)
                text = texts.get(text_key)
                if text is None:
                    text = texts[text_key] = self._text(
                        entry,
                        chat.settings.tz,
                        state,
                        decision,
                        value,
                        source,
                        snapshot,
                        now,
                        opts,
                        references,
                        stale_since,
                    )
                judged.messages.append(
                    self._row(entry, chat, state, decision, text, status, now, stale_since, source)
                )
            judged.evaluated += min(self.slice_size, len(entries) - start)
            if time.perf_counter() - turn >= TURN_S:
                await asyncio.sleep(0)
                turn = time.perf_counter()

    def change_windows(self, metric: str) -> set[int]:
        """The windows of the change rules on ``metric`` (their references are looked up once)."""
        return {
            e.rule.window_s for e in self.by_metric.get(metric, {}).values() if isinstance(e.rule, ChangeRule)
        }

    @staticmethod
    def _text(
        entry: Entry,
        tz: str | None,
        prior: AlertState,
        decision: Decision,
        value: float | None,
        source: str,
        snapshot: Mapping[str, float],
        now: datetime,
        opts: IngestOptions,
        references: Mapping[int, float | None],
        stale_since: datetime | None,
    ) -> str:
        rule = entry.rule
        assert isinstance(rule, ThresholdRule | ChangeRule)
        reference = references.get(rule.window_s) if isinstance(rule, ChangeRule) else None
        return alert_text(
            rule,
            entry.text,
            prior,
            decision,
            value,
            source,
            snapshot,
            now,
            opts,
            zone_or_utc(tz),
            reference,
            stale_since,
        )

    @staticmethod
    def _data_back(
        entry: Entry,
        chat: ChatInfo,
        prior: AlertState,
        decision: Decision,
        value: float,
        source: str,
        now: datetime,
    ) -> Candidate | None:
        rule = entry.rule
        assert isinstance(rule, ThresholdRule | ChangeRule)
        return data_back(
            entry.chat_id,
            chat.type,
            chat.settings,
            entry.id,
            rule,
            entry.text,
            prior,
            decision,
            value,
            source,
            now,
            chat.settings.zone(),
        )

    @staticmethod
    def _row(
        entry: Entry,
        chat: ChatInfo,
        prior: AlertState,
        decision: Decision,
        text: str,
        status: str,
        now: datetime,
        stale_since: datetime | None,
        source: str,
    ) -> Candidate:
        """The outbox row, keyed and grouped as the database path does (bot/engine/rule_eval.py)."""
        rule = entry.rule
        assert isinstance(rule, ThresholdRule | ChangeRule)
        group, brief = None, None
        if decision.reason is Reason.NO_DATA:
            group = nodata_group(source, stale_since, now, chat.settings.zone(), rule.metric)
            brief = f"• <code>{escape(entry.text)}</code>"
        return Candidate(
            transition_key(entry.chat_id, rule, prior, decision, stale_since, now),
            entry.chat_id,
            entry.id,
            str(decision.reason),
            text,
            outbox.priority_for(chat.type),
            status,
            rule.severe,
            group,
            brief,
        )


def state_of(cache: RuleCache, rule_id: int) -> AlertState | None:
    """The in-memory state of one rule (tests and /metrics)."""
    entry = cache.entry(rule_id)
    return entry.state if entry is not None else None
