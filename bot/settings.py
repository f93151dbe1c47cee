"""Settings: ``config.toml`` plus environment, validated strictly at start.

Sources, highest priority first: environment variables ``MINERWATCH_<SECTION>__<KEY>`` (nested
delimiter ``__``, e.g. ``MINERWATCH_WATCHERS__NETWORK__EVERY=30s``), then the TOML file (path from
``--config``, else ``MINERWATCH_CONFIG``, else ``./config.toml``). The bot token may also come from
``TELEGRAM_BOT_TOKEN``. Unknown keys and bad values fail at start with a message naming the key.
"""

from __future__ import annotations

import ipaddress
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rules.durations import Duration
from rules.units import parse_chat_id
from watchers.bitcoind import BitcoindSourceConfig
from watchers.ercot import ErcotSourceConfig, PowerWatcherConfig
from watchers.ercot_dam import DamWatcherConfig
from watchers.ercot_grid import GridWatcherConfig
from watchers.filings.config import EdgarSourceConfig, FilingsWatcherConfig
from watchers.ledger.config import LedgerConfig
from watchers.mempool import MempoolSourceConfig
from watchers.network import NetworkWatcherConfig
from watchers.other_grids import GridsWatcherConfig
from watchers.price import PriceSourceConfig
from watchers.quotes import FinnhubSourceConfig, NasdaqSourceConfig, QuotesWatcherConfig, YahooSourceConfig

DEFAULT_CONFIG_PATH = Path("config.toml")
CONFIG_ENV = "MINERWATCH_CONFIG"
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"

_config_path: ContextVar[Path] = ContextVar("minerwatch_config_path", default=DEFAULT_CONFIG_PATH)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TelegramConfig(_Section):
    token: SecretStr | None = None  # prefer TELEGRAM_BOT_TOKEN in the environment
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    admins: list[int] = Field(default_factory=list)  # user ids allowed to manage channels / get health alerts
    poll_timeout_s: int = 30  # getUpdates long-poll timeout


class StorageConfig(_Section):
    path: Path = Path("data/minerwatch.db")
    keep_observations: Duration = 400 * 86400  # older rows are thinned


LAN_SUFFIXES = (".local", ".lan", ".home", ".internal", ".localdomain", ".home.arpa")


def lan_host(host: str) -> bool:
    """A host only the local network can reach: a private, loopback or link-local address,
    ``localhost``, a one-label name (``umbrel``) or an mDNS/home suffix (``umbrel.local``)."""
    host = host.strip("[]").lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(LAN_SUFFIXES)
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified


class LinksConfig(_Section):
    """Where links in messages point: addresses every reader can open. Alerts computed from a
    self-hosted mempool ([sources.mempool] base_url on a LAN) link here, never to the LAN."""

    explorer_url: str = "https://mempool.space"  # a public mempool explorer

    @field_validator("explorer_url")
    @classmethod
    def _public(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError('write a public explorer address like "https://mempool.space"')
        if lan_host(parts.hostname):
            raise ValueError(
                f"{parts.hostname} is a local-network address that readers cannot open: "
                'use a public explorer like "https://mempool.space"'
            )
        return value.strip().rstrip("/")


class SourcesConfig(_Section):
    mempool: MempoolSourceConfig = Field(default_factory=MempoolSourceConfig)
    bitcoind: BitcoindSourceConfig = Field(default_factory=BitcoindSourceConfig)
    price: PriceSourceConfig = Field(default_factory=PriceSourceConfig)
    ercot: ErcotSourceConfig = Field(default_factory=ErcotSourceConfig)
    edgar: EdgarSourceConfig = Field(default_factory=EdgarSourceConfig)
    yahoo: YahooSourceConfig = Field(default_factory=YahooSourceConfig)
    finnhub: FinnhubSourceConfig = Field(default_factory=FinnhubSourceConfig)
    nasdaq: NasdaqSourceConfig = Field(default_factory=NasdaqSourceConfig)


class WatchersConfig(_Section):
    network: NetworkWatcherConfig = Field(default_factory=NetworkWatcherConfig)
    power: PowerWatcherConfig = Field(default_factory=PowerWatcherConfig)
    grid: GridWatcherConfig = Field(default_factory=GridWatcherConfig)
    dam: DamWatcherConfig = Field(default_factory=DamWatcherConfig)
    grids: GridsWatcherConfig = Field(default_factory=GridsWatcherConfig)
    filings: FilingsWatcherConfig = Field(default_factory=FilingsWatcherConfig)
    quotes: QuotesWatcherConfig = Field(default_factory=QuotesWatcherConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)  # debt ledger, from the filings (issue 14)


class AlertsConfig(_Section):
    """Alertmanager's names, so users recognise them (conventions §5)."""

    max_rules_per_chat: int = Field(default=50, ge=1, le=1000)
    send_resolved: bool = True
    stale_after: Duration = 30 * 60  # a source silent this long makes its rules say "no data"
    source_failing_after: Duration = 10 * 60  # admins hear of a failing source after this long


class DeliveryConfig(_Section):
    drain_every: Duration = 1  # how often the outbox is drained (it is also kicked on each new row)
    batch: int = Field(default=200, ge=1)
    max_attempts: int = Field(default=20, ge=1)
    # Telegram's paid broadcasts: up to 1,000 messages/s, 0.1 Telegram Stars per message from the
    # bot's balance. For operators with thousands of subscribers.
    allow_paid_broadcast: bool = False


class HttpConfig(_Section):
    """The operator's endpoint: /healthz and /metrics (Prometheus text format)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)  # 0 picks a free port (tests)


class BroadcastConfig(_Section):
    """A channel (or group) that gets alerts from the config file: one message per event."""

    chat: str  # "@channelname" or a numeric id like "-1001234567890"
    rules: list[str] = Field(min_length=1)  # rule texts, as after /alert
    pinned_status: bool = False  # keep one pinned /status message in the chat, edited in place
    # the bot must be an administrator of the channel with the right to post

    @field_validator("chat")
    @classmethod
    def _chat_form(cls, value: str) -> str:
        value = value.strip()
        if not (value.startswith("@") and len(value) > 1) and parse_chat_id(value) is None:
            raise ValueError('write "@channelname" or a numeric chat id like "-1001234567890"')
        return value

    @field_validator("rules")
    @classmethod
    def _rules_parse(cls, value: list[str]) -> list[str]:
        from rules.grammar import RuleError, format_rule, parse_rule

        out = []
        for i, text in enumerate(value):
            try:
                out.append(format_rule(parse_rule(text)))
            except RuleError as err:
                raise ValueError(f"rule {i + 1} ({text!r}): {err.problem}") from err
        return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MINERWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    watchers: WatchersConfig = Field(default_factory=WatchersConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    links: LinksConfig = Field(default_factory=LinksConfig)
    broadcast: list[BroadcastConfig] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_path.get())
        return (init_settings, env_settings, toml)

    @model_validator(mode="before")
    @classmethod
    def _token_from_standard_env(cls, data: Any) -> Any:
        token = os.environ.get(TOKEN_ENV)
        if token and isinstance(data, dict):
            telegram = data.get("telegram")
            if not isinstance(telegram, dict):
                telegram = {} if telegram is None else telegram
            if isinstance(telegram, dict) and not telegram.get("token"):
                data["telegram"] = {**telegram, "token": token}
        return data


class ConfigError(Exception):
    """A bad config: the message names each bad key and what is wrong with it."""


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (check its spelling and section)")
        elif e["type"] == "missing":
            lines.append(f"{key}: required")
        else:
            value = e.get("input")
            shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
            lines.append(f"{key}: {e['msg']}{shown}")
    return "\n".join(lines)


def resolve_config_path(path: str | Path | None) -> Path:
    if path:
        return Path(path)
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_settings(path: str | Path | None = None) -> Settings:
    """Load and validate; raise ConfigError naming the offending keys."""
    cfg_path = resolve_config_path(path)
    if path is not None and not cfg_path.exists():
        raise ConfigError(f"config file {cfg_path} does not exist")
    token = _config_path.set(cfg_path)
    try:
        return Settings()
    except ValidationError as err:
        raise ConfigError(f"invalid config ({cfg_path}):\n{_describe(err)}") from err
    except ValueError as err:  # TOML syntax errors surface as ValueError subclasses
        raise ConfigError(f"cannot read config {cfg_path}: {err}") from err
    finally:
        _config_path.reset(token)


MASK = "**********"


def mask_url(value: str) -> str:
    """``http://user:PASS@host:8332/`` -> ``http://user:**********@host:8332/``: a password in a
    URL (bitcoind's RPC, a private mempool) is a secret like any other. Other strings as they are."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if not parts.scheme or "@" not in parts.netloc:
        return value
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    return urlunsplit(parts._replace(netloc=netloc))


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return mask_url(value) if isinstance(value, str) else value


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret shown as ``**********``: secret fields, and
    the credentials of any URL."""
    return _mask(settings.model_dump(mode="json"))


def check_runnable(settings: Settings) -> None:
    """Raise ConfigError for whatever ``run`` would refuse in these settings before it starts (the
    filings watcher without an EDGAR user agent, ...): ``check`` and ``run`` both call this, so
    ``check`` never says OK to a config ``run`` refuses."""
    from bot.registry import build_watchers  # bot.registry imports this module

    try:
        build_watchers(settings)
    except ValueError as err:
        raise ConfigError(f"config cannot run: {err}") from err
