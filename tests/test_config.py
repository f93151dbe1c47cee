"""Config: TOML + environment through pydantic-settings, strict, failing at start naming the key;
secrets masked; every key documented in the shipped config.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.settings import ConfigError, Settings, load_settings, masked_dump
from tests.harness import write_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("MINERWATCH_") or key == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(key)


def test_shipped_config_loads_with_defaults():
    s = load_settings(ROOT / "config.toml")
    assert s.watchers.network.every == 60
    assert s.sources.mempool.base_url == "https://mempool.space"
    assert str(s.storage.path) == "data/minerwatch.db"
    assert s.telegram.base_url == "https://api.telegram.org/bot"
    assert s.telegram.token is None


def test_missing_file_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"telegram": {"tokn": "x"}}, "telegram.tokn: unknown key"),
        ({"watchers.network": {"every": "5x"}}, "watchers.network.every"),
        ({"watchers.network": {"every": "0s"}}, "watchers.network.every"),
        ({"watchers.network": {"sources": ["mempol"]}}, "watchers.network.sources"),
        ({"alerts": {"max_rules_per_chat": 0}}, "alerts.max_rules_per_chat"),
        ({"surces": {"x": 1}}, "surces: unknown key"),
        ({"http": {"port": 70000}}, "http.port"),
    ],
    ids=[
        "unknown-key",
        "bad-duration",
        "zero-duration",
        "unknown-source",
        "out-of-range",
        "unknown-section",
        "bad-port",
    ],
)
def test_bad_config_names_the_key(tmp_path, sections, expected):
    path = write_config(tmp_path / "config.toml", sections)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert expected in str(err.value)


def test_toml_syntax_error_is_a_config_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[telegram\nbase_url = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="config"):
        load_settings(path)


def test_environment_overrides_toml(tmp_path, monkeypatch):
    path = write_config(tmp_path / "config.toml", {"watchers.network": {"every": "90s"}})
    monkeypatch.setenv("MINERWATCH_WATCHERS__NETWORK__EVERY", "30s")
    monkeypatch.setenv("MINERWATCH_SOURCES__MEMPOOL__BASE_URL", "http://umbrel.local:3006")
    s = load_settings(path)
    assert s.watchers.network.every == 30
    assert s.sources.mempool.base_url == "http://umbrel.local:3006"


def test_config_path_from_environment(tmp_path, monkeypatch):
    path = write_config(tmp_path / "other.toml", {"watchers.network": {"every": "2m"}})
    monkeypatch.setenv("MINERWATCH_CONFIG", str(path))
    assert load_settings().watchers.network.every == 120


def test_token_from_standard_variable_and_never_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:SECRET-token-value")
    s = load_settings(write_config(tmp_path / "c.toml", {}))
    assert s.telegram.token is not None and s.telegram.token.get_secret_value() == "999:SECRET-token-value"
    assert "SECRET" not in repr(s)
    assert "SECRET" not in str(masked_dump(s))


def test_bad_environment_value_names_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("MINERWATCH_WATCHERS__NETWORK__EVERY", "soon")
    with pytest.raises(ConfigError, match=r"watchers\.network\.every"):
        load_settings(write_config(tmp_path / "c.toml", {}))


def _keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        item = getattr(ann, "__args__", (None,))[0]
        if isinstance(item, type) and issubclass(item, BaseModel):  # an array of tables: [[name]]
            out += _keys(item, f"[{name}].")
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _keys(ann, f"{prefix}{name}.")
        else:
            out.append((prefix.rstrip("."), name))
    return out


def test_every_setting_is_documented_in_config_toml():
    """conventions §15: the shipped config.toml shows every key (datasette's settings test)."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    sections = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.lstrip("# ").startswith("[["):
            current = "[" + stripped.lstrip("# ").strip("[]") + "]"
            sections.setdefault(current, "")
        elif stripped.startswith("["):
            current = stripped.strip("[]")
            sections.setdefault(current, "")
        elif current:
            sections[current] += stripped.lstrip("# ") + "\n"
    missing = [
        f"{section}.{key}"
        for section, key in _keys(Settings)
        if section not in sections
        or not any(
            ln.startswith(f"{key} ") or ln.startswith(f"{key}=") for ln in sections[section].splitlines()
        )
    ]
    assert not missing, f"keys missing from config.toml: {missing}"
