"""When two rules watch the same condition: equal but for how they alert (severity ``!``, ``for``,
``every``, ``margin``). Pure. A chat with both would get two messages for one crossing, so adding
the second is refused with the first named (bot/handlers/commands.py add_rule_from_text)."""

from __future__ import annotations

from dataclasses import replace

from rules.model import ChangeRule, EventRule, Rule, ThresholdRule


def condition_of(rule: Rule) -> Rule:
    """The rule with everything that is not its condition set to the default."""
    if isinstance(rule, ThresholdRule):
        return replace(rule, for_s=0, every_s=None, margin_pct=None, severe=False)
    if isinstance(rule, ChangeRule):
        return replace(rule, every_s=None, severe=False)
    assert isinstance(rule, EventRule)
    return replace(rule, severe=False)


def same_condition(a: Rule, b: Rule) -> bool:
    return condition_of(a) == condition_of(b)
