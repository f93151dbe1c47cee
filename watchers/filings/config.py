"""``[sources.edgar]`` and ``[watchers.filings]``, and the User-Agent SEC requires."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rules.durations import Duration

SOURCE = "edgar"

DEFAULT_TICKERS = [
    "MARA", "RIOT", "CLSK", "CORZ", "IREN", "BITF", "WULF",
    "HUT", "CIFR", "BTDR", "HIVE", "BTBT", "GLXY", "APLD",
]  # fmt: skip
DEFAULT_FORMS = ["8-K", "8-K/A", "6-K", "424B*", "FWP", "S-3", "F-3"]


# --------------------------------------------------------------------------------------------------
# Config


class EdgarSourceConfig(BaseModel):
    """``[sources.edgar]``."""

    model_config = ConfigDict(extra="forbid")

    user_agent: str | None = None  # required when the filings watcher is on: "Company contact@example.com"
    data_url: str = "https://data.sec.gov"
    www_url: str = "https://www.sec.gov"
    max_rps: float = Field(default=10.0, gt=0, le=10)  # SEC fair access: 10 requests/second per process
    timeout_s: float = Field(default=20.0, gt=0, le=300)


class FilingsWatcherConfig(BaseModel):
    """``[watchers.filings]``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    # The latest-filings feed is read this often, one request per read (4 a minute, whoever many
    # chats follow it), so a filing reaches the chat within 30 s of appearing in the feed.
    every: Duration = 15
    tickers: list[str] = Field(default_factory=lambda: list(DEFAULT_TICKERS))
    forms: list[str] = Field(default_factory=lambda: list(DEFAULT_FORMS))


class EdgarConfigError(ValueError):
    """The EDGAR source is not usable as configured (no User-Agent)."""


_UA_EXAMPLE = '[sources.edgar]\nuser_agent = "MinerWatch alerts ops@example.com"'


def require_user_agent(source: EdgarSourceConfig) -> str:
    ua = (source.user_agent or "").strip()
    if not ua or "@" not in ua:
        what = "is not set" if not ua else f"({ua!r}) has no contact e-mail"
        raise EdgarConfigError(
            f"[sources.edgar] user_agent {what}: SEC EDGAR requires every client to declare a "
            "User-Agent with a company or app name and a contact e-mail, and blocks undeclared "
            f"traffic. Add to your config:\n{_UA_EXAMPLE}"
        )
    return ua
