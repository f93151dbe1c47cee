"""Rules indexed by what they listen to, so one observation touches only the rules on its metric.

Keys are whatever the caller uses to identify a (chat, rule) pair, e.g. ``(chat_id, rule_id)``.
Threshold and change rules are indexed under their metric; ``curtail`` under ``curtail.margin``
(its effective threshold, see rules.evaluate.effective_threshold_rule); ``retarget``, ``filings``
and ``digest`` under the event kind they listen to (``"retarget"``, ``"filing"``, ``"digest"``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator

from rules.events import EVENT_KINDS
from rules.model import ChangeRule, EventRule, Rule, ThresholdRule

CURTAIL_METRIC = "curtail.margin"


def _slot(rule: Rule) -> tuple[str, str]:
    """("metric", name) or ("event", kind) for ``rule``."""
    if isinstance(rule, ThresholdRule | ChangeRule):
        return "metric", rule.metric
    if rule.event == "curtail":
        return "metric", CURTAIL_METRIC
    return "event", EVENT_KINDS[rule.event]


class RuleIndex:
    def __init__(self) -> None:
        self._rules: dict[Hashable, Rule] = {}
        self._by_metric: dict[str, dict[Hashable, Rule]] = {}
        self._by_event: dict[str, dict[Hashable, Rule]] = {}

    def _bucket(self, rule: Rule) -> tuple[dict[str, dict[Hashable, Rule]], str]:
        kind, name = _slot(rule)
        return (self._by_metric if kind == "metric" else self._by_event), name

    def add(self, key: Hashable, rule: Rule) -> None:
        """Add ``rule`` under ``key``, replacing whatever rule ``key`` had."""
        self.remove(key)
        self._rules[key] = rule
        table, name = self._bucket(rule)
        table.setdefault(name, {})[key] = rule

    def remove(self, key: Hashable) -> None:
        """Forget ``key``'s rule; a key that is not there is ignored."""
        rule = self._rules.pop(key, None)
        if rule is None:
            return
        table, name = self._bucket(rule)
        bucket = table.get(name)
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                del table[name]

    def for_metric(self, metric: str) -> list[tuple[Hashable, Rule]]:
        """The rules to evaluate on a new value of ``metric`` (incl. ``curtail`` for curtail.margin)."""
        bucket = self._by_metric.get(metric)
        return list(bucket.items()) if bucket else []

    def events(self, kind: str) -> list[tuple[Hashable, EventRule]]:
        """The event rules listening to events of ``kind`` ("retarget", "filing", "digest")."""
        kind = EVENT_KINDS.get(kind, kind)  # "filings" works as well as "filing"
        bucket = self._by_event.get(kind)
        if not bucket:
            return []
        return [(key, rule) for key, rule in bucket.items() if isinstance(rule, EventRule)]

    def metrics(self) -> set[str]:
        """Metrics that have at least one rule (what is worth observing)."""
        return set(self._by_metric)

    def get(self, key: Hashable) -> Rule | None:
        return self._rules.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._rules

    def __iter__(self) -> Iterator[tuple[Hashable, Rule]]:
        return iter(list(self._rules.items()))

    def __len__(self) -> int:
        return len(self._rules)
