"""Real-time prices of the other grids where miners run (issue 16): ``power.<iso>.<hub>``.

Through gridstatus (BSD-3-Clause; https://github.com/gridstatus/gridstatus), an OPTIONAL extra
(``pip install minerwatch[grids]``): it is synchronous and pulls in pandas and a dozen more
packages, so the default install does without it and ERCOT keeps its own direct path. Each call
runs in a worker thread (``asyncio.to_thread``) so the event loop never waits on it.

Per poll: one gridstatus call per ISO with configured hubs (all its hubs at once), whatever the
number of chats; the default every 5 minutes is the ISOs' real-time interval. An ISO that answers
429/503 (or whose key is refused) is left alone for 10 minutes, doubling on repeats up to 2 hours;
the others go on. PJM and AESO need a (free) key in ``PJM_API_KEY`` / ``AESO_API_KEY``; without
it they are skipped and said so, not polled.

gridstatus returns a DataFrame with ``Interval Start``, ``Interval End``, ``Location`` and ``LMP``
(AESO's pool price: ``Pool Price``). :func:`latest_prices` is the pure core: rows in, the newest
sane price per location out, each stamped with its interval END in UTC.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rules.catalogue import MAX_CLOCK_SKEW_S, POWER_PRICE_BOUNDS
from rules.data import Observation
from rules.durations import Duration
from rules.isos import DEFAULT_HUBS, ISO_CLASSES, IsoHub, hub
from watchers.base import PollContext, PollResult, SourceError

logger = logging.getLogger(__name__)

SOURCE = "gridstatus"
STALE_AFTER = timedelta(hours=1)
BACKOFF_S = 600.0
MAX_BACKOFF_S = 7200.0
PRICE_COLUMNS = ("LMP", "Pool Price", "Price")


class GridsWatcherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False  # needs: pip install minerwatch[grids]
    every: Duration = 300  # the ISOs' real-time interval
    hubs: list[str] = Field(default_factory=lambda: list(DEFAULT_HUBS))

    @field_validator("hubs")
    @classmethod
    def _check_hubs(cls, value: list[str]) -> list[str]:
        out = []
        for name in value:
            found = hub(name)
            if found is None:
                raise ValueError(
                    f"{name!r} is not a known hub (see rules/isos.py), e.g. nyiso.west or miso.indiana_hub"
                )
            if f"{found.iso}.{found.slug}" not in out:
                out.append(f"{found.iso}.{found.slug}")
        return out


def _utc(value: Any) -> datetime | None:
    """A pandas Timestamp or datetime, aware, as UTC; None if naive or not a time."""
    to_py = getattr(value, "to_pydatetime", None)
    when = to_py() if callable(to_py) else value
    if not isinstance(when, datetime) or when.tzinfo is None:
        return None
    return when.astimezone(UTC)


def latest_prices(
    rows: Iterable[Mapping[str, Any]], hubs: Iterable[IsoHub], now: datetime
) -> tuple[dict[str, tuple[datetime, float]], list[str]]:
    """(metric -> (interval end UTC, price), problems) from gridstatus-shaped rows: the newest
    row per wanted location. Rows with a naive or missing time, a non-finite or implausible
    price, or an interval ending in the future are skipped and named in ``problems``."""
    wanted = {h.location: h for h in hubs}
    best: dict[str, tuple[datetime, float]] = {}
    problems: list[str] = []
    for row in rows:
        h = wanted.get(str(row.get("Location", "")).strip())
        if h is None:
            continue
        end = _utc(row.get("Interval End"))
        raw = next((row[c] for c in PRICE_COLUMNS if c in row), None)
        try:
            price = float(raw) if raw is not None and not isinstance(raw, bool) else math.nan
        except (TypeError, ValueError):
            price = math.nan
        if end is None:
            problems.append(f"{h.location}: interval end {row.get('Interval End')!r} has no time zone")
            continue
        if not math.isfinite(price) or not POWER_PRICE_BOUNDS[0] <= price <= POWER_PRICE_BOUNDS[1]:
            problems.append(f"{h.location}: price {raw!r} is not a plausible number")
            continue
        if (end - now).total_seconds() > MAX_CLOCK_SKEW_S:
            problems.append(f"{h.location}: interval ending {end.isoformat()} is in the future")
            continue
        if h.metric not in best or end > best[h.metric][0]:
            best[h.metric] = (end, price)
    return best, problems


def _rows(frame: Any) -> list[Mapping[str, Any]]:
    """A DataFrame's rows as dicts (``to_dict("records")``); anything else is a SourceError."""
    to_dict = getattr(frame, "to_dict", None)
    if not callable(to_dict):
        raise SourceError(SOURCE, f"gridstatus answered {type(frame).__name__}, not a DataFrame")
    rows = to_dict("records")
    if not isinstance(rows, list):
        raise SourceError(SOURCE, "gridstatus DataFrame gave no records")
    return rows


def _status(err: BaseException) -> int | None:
    response = getattr(err, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def gridstatus_client(iso: str) -> Any:
    """The gridstatus object for ``iso`` (import here: the extra is optional)."""
    try:
        import gridstatus  # type: ignore[import-not-found]
    except ImportError as err:
        raise SourceError(SOURCE, "gridstatus is not installed: pip install minerwatch[grids]") from err
    return getattr(gridstatus, ISO_CLASSES[iso])()


def fetch_latest(client: Any, iso: str, locations: list[str]) -> Any:
    """One synchronous gridstatus call for an ISO's latest real-time prices (run in a thread)."""
    if iso == "aeso":
        return client.get_pool_price(date="latest")
    method = getattr(client, "get_lmp_real_time_5_min", None)
    if callable(method):
        try:
            return method(date="latest", locations=locations)
        except TypeError:  # an ISO whose method takes no locations filter
            return method(date="latest")
    return client.get_lmp(date="latest", market="REAL_TIME_5_MIN", locations=locations)


class GridsWatcher:
    """Implements :class:`watchers.base.Watcher` for the ISOs gridstatus reads."""

    id = "grids"

    def __init__(
        self,
        cfg: GridsWatcherConfig,
        client_factory: Callable[[str], Any] = gridstatus_client,
        fetch: Callable[[Any, str, list[str]], Any] = fetch_latest,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.hubs = [h for h in (hub(n) for n in cfg.hubs) if h is not None]
        self._factory = client_factory
        self._fetch = fetch
        self._env = os.environ if env is None else env
        self._clients: dict[str, Any] = {}
        self._down: dict[str, tuple[datetime, int]] = {}  # iso -> (until, strikes), in memory

    async def poll(self, ctx: PollContext) -> PollResult:
        by_iso: dict[str, list[IsoHub]] = {}
        for h in self.hubs:
            by_iso.setdefault(h.iso, []).append(h)
        observations: list[Observation] = []
        errors: dict[str, str] = {}
        for iso, hubs in by_iso.items():
            key_env = hubs[0].key_env
            if key_env and not self._env.get(key_env):
                errors[iso] = f"needs a (free) API key in {key_env}; skipped"
                continue
            down = self._down.get(iso)
            if down and ctx.now < down[0]:
                errors[iso] = f"standing back until {down[0]:%H:%M} UTC"
                continue
            try:
                client = self._clients.get(iso) or self._factory(iso)
                self._clients[iso] = client
                frame = await asyncio.to_thread(self._fetch, client, iso, [h.location for h in hubs])
                found, problems = latest_prices(_rows(frame), hubs, ctx.now)
            except SourceError as err:
                errors[iso] = err.message
                continue
            except Exception as err:  # gridstatus raises requests/pandas errors of every kind
                code = _status(err)
                if code in (401, 403, 429, 503):
                    strikes = (down[1] if down else 0) + 1
                    wait = min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (strikes - 1))
                    self._down[iso] = (ctx.now + timedelta(seconds=wait), strikes)
                errors[iso] = f"{type(err).__name__}: {str(err)[:120]}"
                continue
            self._down.pop(iso, None)
            for h in hubs:
                if h.metric not in found:
                    problems.append(f"no price for {h.location}")
                    continue
                end, price = found[h.metric]
                if end < ctx.now - STALE_AFTER:
                    problems.append(f"{h.location}: newest price is for {end.isoformat()}: stale")
                    continue
                observations.append(Observation(h.metric, price, end, iso))
            if problems:
                errors[iso] = "; ".join(problems)
        if not observations:
            raise SourceError(
                SOURCE, "; ".join(f"{k}: {v}" for k, v in errors.items()) or "no hubs configured"
            )
        return PollResult(observations=observations, errors=errors)
