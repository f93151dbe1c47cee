"""rules/backtest.py: a rule replayed over a hand-built series fires as the engine would, and the
replay agrees with the live engine (bot/engine/runner.py Pipeline) fed the same values."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.engine.dbworker import DbWorker
from bot.engine.rule_eval import IngestOptions
from bot.engine.runner import Pipeline
from rules.backtest import Point, combine_latest, derive, history_needed_s, replay
from rules.conditions import same_condition
from rules.data import Observation
from rules.grammar import format_rule, parse_rule
from rules.model import ChangeRule, Status, ThresholdRule
from storage import chats, observations
from storage import rules as rule_store
from storage.db import open_db
from watchers.base import PollContext, PollResult

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def minutes(values: list[float], start: datetime = T0) -> list[Point]:
    return [(start + i * MIN, v) for i, v in enumerate(values)]


def run(text: str, values: list[float], start: datetime = T0):
    rule = parse_rule(text)
    assert isinstance(rule, ThresholdRule | ChangeRule)
    series = minutes(values, start)
    return replay(rule, series, start, series[-1][0])


def test_fires_once_per_crossing_with_the_last_time_and_the_longest_episode():
    result = run("hashprice < 45", [50, 44, 50, 44, 44, 44, 50, 44])
    assert result.fired == 3 and result.notices == 3
    assert result.last_fired == T0 + 7 * MIN
    assert result.longest_s == 3 * 60  # fired at minute 3, resolved at minute 6
    assert result.still_firing and result.state.status is Status.FIRING
    assert result.evaluated == 8 and result.first_at == T0


def test_nothing_below_the_threshold_never_fires():
    result = run("hashprice < 45", [50, 49, 46, 45, 47])
    assert result.fired == 0 and result.last_fired is None and result.longest_s is None
    assert not result.still_firing


def test_for_suppresses_dips_shorter_than_it():
    # two 3-minute dips: "for 5m" never fires
    dips = [50, 44, 44, 44, 50, 44, 44, 44, 50]
    assert run("hashprice < 45 for 5m", dips).fired == 0
    assert run("hashprice < 45", dips).fired == 2
    # a 7-minute dip fires once, 5 minutes after it began
    long_dip = [50] + [44] * 7 + [50]
    result = run("hashprice < 45 for 5m", long_dip)
    assert result.fired == 1 and result.last_fired == T0 + 6 * MIN
    assert result.longest_s == 2 * 60  # firing from minute 6 to the resolve at minute 8


def test_hysteresis_keeps_a_wobble_around_the_threshold_one_firing():
    wobble = [46, 44.9, 45.2, 44.9, 45.3, 44.8, 46]
    # the default band is 1% of 45 (0.45): 45.2 and 45.3 are not far enough back to resolve
    assert run("hashprice < 45", wobble).fired == 1
    # without the band, each move back above 45 resolves and the next dip fires again
    assert run("hashprice < 45 margin 0%", wobble).fired == 3


def test_every_repeats_while_firing_and_counts_the_messages():
    result = run("hashprice < 45 every 10m", [50] + [44] * 31)
    # fired at minute 1, repeated at minutes 11, 21 and 31
    assert result.fired == 1 and result.notices == 4
    assert run("hashprice < 45", [50] + [44] * 31).notices == 1


def test_a_change_rule_uses_the_window_before_the_period_and_rearms_at_half():
    # 60 minutes at 100 before the period, then a fall to 89 (-11%) and a recovery
    before = [100.0] * 60
    during = [100.0] * 5 + [89.0] * 5 + [100.0] * 70 + [88.0] * 5
    series = minutes(before + during, T0 - 60 * MIN)
    rule = parse_rule("hashprice drops 10% in 1h")
    assert isinstance(rule, ChangeRule)
    result = replay(rule, series, T0, series[-1][0])
    assert result.evaluated == len(during)  # the window before the period is only a reference
    assert result.fired == 2
    assert result.last_fired == T0 + 80 * MIN
    # without the values before the period, the first 60 minutes have no reference: no firing
    late = replay(rule, [p for p in series if p[0] >= T0], T0, series[-1][0])
    assert late.fired == 1


def test_values_before_the_period_are_not_judged():
    series = minutes([44, 44, 50, 50, 44])
    rule = parse_rule("hashprice < 45")
    assert isinstance(rule, ThresholdRule)
    result = replay(rule, series, T0 + 2 * MIN, series[-1][0])
    assert result.evaluated == 3 and result.fired == 1 and result.last_fired == T0 + 4 * MIN


def test_history_needed_for_changes_and_ercot_averages():
    assert history_needed_s(parse_rule("hashprice drops 10% in 24h")) == 86400  # type: ignore[arg-type]
    assert history_needed_s(parse_rule("power.hb_west.avg24h > 100")) == 86400  # type: ignore[arg-type]
    assert history_needed_s(parse_rule("power.hb_west.avg1h > 100")) == 3600  # type: ignore[arg-type]
    assert history_needed_s(parse_rule("hashprice < 45")) == 0  # type: ignore[arg-type]


def test_derive_and_combine_latest():
    assert derive(minutes([1.0, 0.0, 2.0]), lambda v: 1 / v if v else None) == [
        (T0, 1.0),
        (T0 + 2 * MIN, 0.5),
    ]
    power = [(T0 + MIN, 10.0), (T0 + 3 * MIN, 30.0)]
    hashprice = [(T0, 1.0), (T0 + 2 * MIN, 2.0), (T0 + 3 * MIN, 3.0)]
    combined = combine_latest(power, hashprice, lambda p, h: p - h)
    # from the first moment both exist, at each value of either, the latest of each
    assert combined == [(T0 + MIN, 9.0), (T0 + 2 * MIN, 8.0), (T0 + 3 * MIN, 27.0)]


def test_same_condition_ignores_how_it_alerts_but_not_what_it_watches():
    assert same_condition(parse_rule("!price < 50k"), parse_rule("price < 50000"))
    assert same_condition(parse_rule("price < 50k for 10m every 1h"), parse_rule("price below 50k"))
    assert same_condition(parse_rule("price < 50k margin 2%"), parse_rule("price < 50k"))
    assert same_condition(parse_rule("!retarget"), parse_rule("retarget"))
    assert not same_condition(parse_rule("price < 50k"), parse_rule("price <= 50k"))
    assert not same_condition(parse_rule("price < 50k"), parse_rule("price < 51k"))
    assert not same_condition(parse_rule("filings MARA"), parse_rule("filings RIOT"))
    assert not same_condition(
        parse_rule("hashprice drops 10% in 1h"), parse_rule("hashprice drops 10% in 2h")
    )


# ---- the replay and the live engine agree -----------------------------------------------------

AGREEMENT_RULES = [
    "hashprice < 45",
    "hashprice < 45 for 5m",
    "hashprice < 45 every 10m",
    "hashprice > 46 margin 3%",
    "hashprice < 44.5 for 3m every 15m margin 0%",
    "hashprice drops 3% in 10m",
    "hashprice rises 2% in 30m every 20m",
    "hashprice >= 45.5 for 10m every 5m",
    "hashprice <= 44 every 5m margin 5%",
    "hashprice drops 1% in 5m every 10m",
]


class SeriesWatcher:
    """Serves the next value of a series as ``hashprice`` at the poll's time."""

    id = "net"

    def __init__(self) -> None:
        self.value = 0.0

    async def poll(self, ctx: PollContext) -> PollResult:
        return PollResult([Observation("hashprice", self.value, ctx.now, "test")])


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def walk(n: int, seed: int) -> list[float]:
    """A random walk around 45, so every rule above crosses a few times."""
    rng = random.Random(seed)
    value, out = 45.0, []
    for _ in range(n):
        value += rng.gauss(0, 0.4) + (45.0 - value) * 0.05
        out.append(round(value, 3))
    return out


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_replay_fires_what_the_engine_fired_on_the_same_values(tmp_path, seed):
    db = DbWorker(open_db(tmp_path / "db.sqlite"))
    try:
        ids = {}
        # one chat per rule: in one chat, rules on the same condition share one message per crossing
        for chat_id, text in enumerate(AGREEMENT_RULES, start=1):
            chats.ensure_chat(db.db, chat_id, "private", None, T0)
            rule = parse_rule(text)
            kind = "change" if isinstance(rule, ChangeRule) else "threshold"
            rule_id = rule_store.add_rule(
                db.db, chat_id, format_rule(rule), "hashprice", kind, T0, max_rules=50
            )
            assert rule_id is not None
            ids[rule_id] = rule
        clock = Clock(T0)
        watcher = SeriesWatcher()
        pipeline = Pipeline(db, clock, IngestOptions(links={}))
        values = walk(600, seed)
        for i, value in enumerate(values):
            clock.now = T0 + i * MIN
            watcher.value = value
            outcome = await pipeline.run_watcher(watcher, session=None)  # type: ignore[arg-type]
            assert outcome.ok, outcome.error
        sent = Counter((r["rule_id"], r["reason"]) for r in db.db["outbox"].rows)
        stored = observations.history(db.db, "hashprice", T0)
        assert [v for _, v in stored] == values  # the replay reads what the engine stored
        assert sum(n for (_, reason), n in sent.items() if reason == "repeat") > 0  # every is exercised
        for rule_id, rule in ids.items():
            assert isinstance(rule, ThresholdRule | ChangeRule)
            result = replay(rule, stored, T0, clock.now)
            fired, repeats = sent[(rule_id, "firing")], sent[(rule_id, "repeat")]
            assert fired > 0, f"the walk should cross {format_rule(rule)}"
            assert (result.fired, result.notices) == (fired, fired + repeats), format_rule(rule)
    finally:
        db.close()


def naive_replay(rule: ThresholdRule | ChangeRule, series: list[Point]) -> tuple[int, int, datetime | None]:
    """Every value through evaluate(), no shortcut: (firings, firing + repeat messages, last)."""
    from rules.evaluate import evaluate
    from rules.model import AlertState, Reason

    state, fired, notices, last = AlertState(), 0, 0, None
    for i, (at, value) in enumerate(series):
        reference = None
        if isinstance(rule, ChangeRule):
            earlier = [v for t, v in series[: i + 1] if t <= at - timedelta(seconds=rule.window_s)]
            reference = earlier[-1] if earlier else None
        decision = evaluate(rule, state, value, at, reference=reference)
        state = decision.state
        if decision.reason is Reason.FIRING:
            fired, last = fired + 1, at
        notices += decision.reason in (Reason.FIRING, Reason.REPEAT)
    return fired, notices, last


@pytest.mark.parametrize("seed", range(6))
def test_the_replays_shortcuts_decide_what_evaluating_every_value_decides(seed):
    series = minutes(walk(400, seed + 10))
    total = 0
    for text in [*AGREEMENT_RULES, "hashprice > 45 for 2m", "hashprice < 45.2 for 20m every 5m margin 0%"]:
        rule = parse_rule(text)
        assert isinstance(rule, ThresholdRule | ChangeRule)
        result = replay(rule, series, T0, series[-1][0])
        assert (result.fired, result.notices, result.last_fired) == naive_replay(rule, series), text
        total += result.notices
    assert total > 0  # the walk crosses: the comparison is not of zeros
