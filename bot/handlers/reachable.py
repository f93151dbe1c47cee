"""Whether a rule can ever fire on this bot as configured.

A rule on an ERCOT point that is not polled or on a ticker that is not watched would wait forever
in silence: it is refused with the reason (:func:`not_polled`). A rule on a watcher that is off
(the shipped config has power and filings off) is kept with a clear warning instead of a ✅, since
it fires once the operator turns the watcher on (:func:`watcher_off`); its /start presets are not
offered. /alert, /channel … alert and the presets all ask here.
"""

from __future__ import annotations

from bot.settings import Settings
from rules.catalogue import lookup
from rules.model import EventRule, Rule

_WATCHERS = ("network", "power", "filings", "quotes", "ledger")
_OFF = "{what} {verb} not watched on this bot ([watchers.{key}] is off)"


def _network_off(settings: Settings, what: str) -> str | None:
    if settings.watchers.network.enabled:
        return None
    return _OFF.format(what=what, verb="is", key="network")


def _power(settings: Settings, point: str | None) -> str | None:
    power = settings.watchers.power
    if not power.enabled:
        return _OFF.format(what="ERCOT power prices", verb="are", key="power")
    if point is not None and point.upper() not in power.points:
        return (
            f"{point.upper()} is not among the ERCOT points this bot polls ({', '.join(power.points)}), "
            "so this alert cannot fire"
        )
    return None


def _ledger(settings: Settings, tickers: tuple[str, ...]) -> str | None:
    """The debt ledger (issue 14) needs the filings watcher (it finds the filings) and is on."""
    if not settings.watchers.filings.enabled:
        return _OFF.format(what="SEC filings", verb="are", key="filings")
    if not settings.watchers.ledger.enabled:
        return _OFF.format(what="The miners' debt ledgers", verb="are", key="ledger")
    missing = [t.upper() for t in tickers if t.upper() not in watched_tickers(settings)]
    if missing:
        return (
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on this bot's filings "
            f"watch list ({', '.join(watched_tickers(settings))}), so this alert cannot fire"
        )
    return None


def watched_tickers(settings: Settings) -> list[str]:
    """The miners whose filings are watched (upper case)."""
    return [t.upper() for t in settings.watchers.filings.tickers]


def quoted_tickers(settings: Settings) -> list[str]:
    """The tickers whose share price is polled: the quotes watcher's list, else the filings list."""
    return [t.upper() for t in (settings.watchers.quotes.tickers or settings.watchers.filings.tickers)]


def never_fires(rule: Rule, settings: Settings) -> str | None:
    """Why ``rule`` cannot fire with these settings (one sentence), or None when it can."""
    return watcher_off(rule, settings) or not_polled(rule, settings)


def _all_on(settings: Settings) -> Settings:
    """The same settings with every watcher on: what remains unreachable is not the switch."""
    on = settings.watchers
    switched = {name: getattr(on, name).model_copy(update={"enabled": True}) for name in _WATCHERS}
    return settings.model_copy(update={"watchers": on.model_copy(update=switched)})


def watcher_off(rule: Rule, settings: Settings) -> str | None:
    """Why ``rule`` cannot fire until the operator turns a watcher on, or None."""
    return None if not_polled(rule, settings) is not None else _why(rule, settings)


def not_polled(rule: Rule, settings: Settings) -> str | None:
    """Why ``rule`` can never fire even with every watcher on (an ERCOT point not polled, a ticker
    not on the watch list), or None."""
    return _why(rule, _all_on(settings))


def _why(rule: Rule, settings: Settings) -> str | None:
    if isinstance(rule, EventRule):
        if rule.event == "retarget":
            return _network_off(settings, "The Bitcoin network")
        if rule.event == "curtail":
            return _power(settings, None) or _network_off(settings, "Hashprice")
        if rule.event == "filings":
            if not settings.watchers.filings.enabled:
                return _OFF.format(what="SEC filings", verb="are", key="filings")
            missing = [t for t in rule.tickers if t.upper() not in watched_tickers(settings)]
            if missing:
                return (
                    f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on this bot's filings "
                    f"watch list ({', '.join(watched_tickers(settings))}), so this alert cannot fire"
                )
        if rule.event == "converts":  # judged on every share price
            if not settings.watchers.quotes.enabled:
                return _OFF.format(what="Share prices", verb="are", key="quotes")
            missing = [t for t in rule.tickers if t.upper() not in quoted_tickers(settings)]
            if missing:
                return (
                    f"the share price of {', '.join(missing)} is not polled on this bot "
                    f"({', '.join(quoted_tickers(settings))}), so this alert cannot fire"
                )
        if rule.event in ("debt", "maturity"):
            return _ledger(settings, rule.tickers)
        return None  # digest: always
    info = lookup(rule.metric)
    scope = info.scope if info is not None else rule.metric.split(".")[0]
    if scope == "network":
        return _network_off(settings, "The Bitcoin network")
    if scope == "chat":  # breakeven, margin, profit follow hashprice
        return _network_off(settings, "Hashprice")
    if scope == "power":
        return _power(settings, rule.metric.split(".")[1])
    if scope == "debt":
        return _ledger(settings, (rule.metric.split(".")[1],))
    if scope == "stock":
        if not settings.watchers.quotes.enabled:
            return _OFF.format(what="Share prices", verb="are", key="quotes")
        ticker = rule.metric.split(".")[1].upper()
        if ticker not in quoted_tickers(settings):
            return (
                f"{ticker}'s share price is not polled on this bot ({', '.join(quoted_tickers(settings))}), "
                "so this alert cannot fire"
            )
    return None


def watched_topics(settings: Settings) -> list[str]:
    """What the enabled watchers cover, for the welcome text."""
    w = settings.watchers
    topics = []
    if w.network.enabled:
        topics.append("difficulty and its projection, hashrate, hashprice, BTC price and fees")
    if w.power.enabled:
        topics.append("ERCOT power prices against your fleet's breakeven")
    if w.filings.enabled:
        topics.append("new financing filings by listed miners")
    if w.quotes.enabled:
        topics.append("miners' share prices")
    return topics
