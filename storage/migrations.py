"""The schema, as named sqlite-utils migrations. Add new ones at the end; never edit old ones."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("minerwatch")


@migrations(transactional=False)
def m001_wal(db: Database) -> None:
    if db.conn.execute("PRAGMA database_list").fetchone()[2]:  # not for :memory:
        db.enable_wal()


@migrations()
def m002_core(db: Database) -> None:
    db["chats"].create(
        {
            "id": int,  # Telegram chat id (private > 0, groups < 0, supergroups/channels -100...)
            "type": str,  # private | group | supergroup | channel
            "title": str,
            "active": int,  # 0 when blocked/kicked: its rules cost nothing
            "tz": str,  # IANA zone for times shown and quiet hours
            "settings": str,  # JSON: fleet, quiet hours, snooze, mute
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        defaults={"active": 1, "tz": "UTC", "settings": "{}"},
        not_null={"type", "active"},
    )
    db["rules"].create(
        {
            "id": int,
            "chat_id": int,
            "text": str,  # canonical text (rules.grammar.format_rule): parses back to the same rule
            "metric": str,  # indexed: an observation touches only the rules on its metric
            "kind": str,  # threshold | change | event
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("chat_id", "chats", "id")],
        not_null={"chat_id", "text", "kind"},
    )
    db["rules"].create_index(["metric"])
    db["rules"].create_index(["chat_id"])
    db["alerts"].create(
        {"rule_id": int, "state": str, "updated_at": str},  # rules.model.AlertState as JSON
        pk="rule_id",
        foreign_keys=[("rule_id", "rules", "id")],
    )
    db["observations"].create(
        {"id": int, "metric": str, "value": float, "at": str, "source": str},
        pk="id",
        not_null={"metric", "value", "at", "source"},
    )
    db["observations"].create_index(["metric", "at"])
    db["events"].create(
        {
            "key": str,  # stable identity: a filing/retarget is announced once, ever
            "kind": str,
            "at": str,
            "source": str,
            "data": str,
            "announce": int,
            "recorded_at": str,
        },
        pk="key",
    )
    db["outbox"].create(
        {
            "key": str,  # idempotency key: the same alert to the same chat is never queued twice
            "chat_id": int,
            "rule_id": int,
            "reason": str,  # firing | resolved | repeat | no_data | event | ...
            "text": str,  # HTML
            "priority": int,  # lower first: private alerts before channel posts
            "status": str,  # pending | sent | failed | held
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "telegram_message_id": int,
            "created_at": str,
            "sent_at": str,
        },
        pk="key",
        defaults={"status": "pending", "attempts": 0, "priority": 10},
        not_null={"chat_id", "text", "status"},
    )
    db["outbox"].create_index(["status", "next_attempt_at"])
    db["watcher_state"].create(
        {
            "id": str,  # watcher id: network | power | filings
            "state": str,  # the watcher's own JSON state (cursors, last values)
            "last_success": str,
            "last_error": str,
            "failing_since": str,
            "updated_at": str,
        },
        pk="id",
    )


@migrations()
def m003_rule_origin(db: Database) -> None:
    # "chat": set with /alert in the chat; "config": a [[broadcast]] entry of config.toml, which
    # the bot keeps in step with the file at every start.
    db["rules"].add_column("origin", str, not_null_default="chat")


@migrations()
def m004_outbox_chat_order(db: Database) -> None:
    # due() checks each candidate's chat for an older row still backing off
    db["outbox"].create_index(["chat_id", "status", "created_at"])


@migrations()
def m005_one_observation_per_instant(db: Database) -> None:
    # One row per (metric, time, source): a source re-reporting the same interval (ERCOT's latest
    # price on every poll) stores nothing new, and a correction of that interval replaces it.
    db.execute(
        "DELETE FROM observations WHERE id NOT IN "
        "(SELECT MAX(id) FROM observations GROUP BY metric, at, source)"
    )
    db["observations"].create_index(["metric", "at", "source"], unique=True)


@migrations()
def m006_debt_ledger(db: Database) -> None:
    # Issue 14: each listed miner's debt, tranche by tranche, built from its filings.
    db["ledger_documents"].create(
        {
            "ticker": str,  # "" while the document's ticker is unknown (skipped before it was read)
            "doc_key": str,  # accession when known, else the sha256 of the bytes: applied once
            "seq": int,  # order applied (filing order)
            "document": str,  # file name or URL, as cited
            "accession": str,
            "form": str,
            "period": str,
            "filed": str,
            "sha256": str,
            "status": str,  # applied | skipped
            "note": str,  # why it was skipped, or what the checks dropped (one line each)
            "recorded_at": str,
        },
        pk=("ticker", "doc_key"),
        not_null={"ticker", "doc_key", "status"},
    )
    db["ledger_documents"].create_index(["ticker", "seq"])
    db["ledgers"].create(
        {
            "ticker": str,
            "state": str,  # rules.ledger.Ledger.to_state() as JSON: the whole ledger, citations included
            "total_debt_principal_usd": float,
            "as_of": str,  # period end of the newest periodic report applied
            "updated_at": str,
        },
        pk="ticker",
    )
    db["ledger_tranches"].create(
        {
            "ticker": str,
            "key": str,  # rules.ledger.Tranche.key: kind + coupon + maturity year, or the name
            "position": int,
            "instrument": str,
            "kind": str,
            "outstanding_principal_usd": float,
            "maturity": str,
            "in_latest_report": int,
            "data": str,  # Tranche.to_full_json()
        },
        pk=("ticker", "key"),
    )
    db["ledger_history"].create(
        {
            "id": int,
            "ticker": str,
            "at": str,
            "total_debt_principal_usd": float,
            "as_of": str,
            "document": str,  # the document whose application changed the ledger
            "state": str,
        },
        pk="id",
    )
    db["ledger_history"].create_index(["ticker", "at"])


@migrations()
def m007_outbox_claims(db: Database) -> None:
    # Exactly-once is the database's job: a drain claims rows by moving them to 'sending' with a
    # token in one UPDATE, so two drains (or two processes) can never take the same row; the
    # owner names the claiming process so a crashed one's claims can be released.
    db["outbox"].add_column("claim_token", str)
    db["outbox"].add_column("claimed_by", str)
    db["outbox"].add_column("claimed_at", str)
    db["outbox"].create_index(["claim_token"])


@migrations()
def m008_shares_and_levels(db: Database) -> None:
    # Issue 15: shares outstanding per ticker from each periodic report's cover, with its date and
    # document (the newest as_of is the count market cap and dilution use) ...
    db["shares_outstanding"].create(
        {
            "ticker": str,
            "as_of": str,  # ISO date the cover gives the count for
            "shares": float,
            "document": str,  # file name or URL of the report, as cited
            "form": str,
            "period": str,
            "accession": str,
            "recorded_at": str,
        },
        pk=("ticker", "as_of", "document"),
        not_null={"ticker", "as_of", "shares", "document"},
    )
    # ... and which side of each convertible tranche's conversion price (or stated soft-call
    # trigger) the stock was last on, so `converts` announces a crossing once, with hysteresis.
    db["stock_levels"].create(
        {
            "ticker": str,
            "level_key": str,  # tranche key + ":conversion" | ":soft_call"
            "side": str,  # above | below
            "level_usd": float,
            "price": float,  # the price that put it on this side
            "since": str,  # the quote's time
        },
        pk=("ticker", "level_key"),
        not_null={"ticker", "level_key", "side"},
    )


@migrations()
def m009_production_figures(db: Database) -> None:
    # Issue 19 (branch production): the miner book's operating figures, one row per figure per
    # filing, with the release's own qualifier and period, so a history per miner and metric can be
    # charted, compared like with like (month to month, quarter to quarter) and cited.
    db["production_figures"].create(
        {
            "ticker": str,
            "metric": str,  # mined_btc | held_btc | hashrate_ehs | efficiency_jth | power_mw
            "accession": str,  # EDGAR accession, or the local document's name (CLI history)
            "value": float,
            "unit": str,
            "period": str,  # YYYY-MM | YYYY-Qn | month name | null
            "period_kind": str,  # month | quarter | other
            "qualifier": str,  # operational | energized | "Including ... pledged ..." | null
            "as_of": str,
            "filed_at": str,  # ISO time of the filing (the figure's time)
            "url": str,
            "evidence": str,  # the words it was read from
            "recorded_at": str,
        },
        pk=("ticker", "metric", "accession"),
        not_null={"ticker", "metric", "accession", "value", "filed_at"},
    )
    db["production_figures"].create_index(["ticker", "metric", "filed_at"])
    # AI/HPC contracts as their releases state them (JSON of watchers.filings.operations.HpcContract).
    db["hpc_contracts"].create(
        {"ticker": str, "accession": str, "filed_at": str, "url": str, "data": str, "recorded_at": str},
        pk=("ticker", "accession"),
        not_null={"ticker", "accession", "data"},
    )


@migrations()
def m010_load_drop_metric_at_index(db: Database) -> None:
    # Issue 17: the unique (metric, at, source) index answers every (metric, at) lookup by its
    # prefix, so the plain (metric, at) one only cost space (about 30% of a year of 1-minute
    # observations) and a second write per observation.
    db.execute("DROP INDEX IF EXISTS idx_observations_metric_at")


@migrations()
def m011_load_rule_changes(db: Database) -> None:
    # Issue 17: the engine keeps rules and alert states in memory by metric. Every change that
    # alters what a rule evaluation needs (a rule added, deleted or moved to another chat; a
    # chat's settings, zone, type or activity) is logged here by triggers, whatever code path
    # made it, so the in-memory index catches up exactly (bot/engine/rulecache.py).
    db.execute(
        "CREATE TABLE IF NOT EXISTS rule_changes "
        "(seq INTEGER PRIMARY KEY AUTOINCREMENT, rule_id INTEGER, chat_id INTEGER)"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS rule_changes_insert AFTER INSERT ON rules BEGIN "
        "INSERT INTO rule_changes (rule_id, chat_id) VALUES (NEW.id, NEW.chat_id); END"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS rule_changes_delete AFTER DELETE ON rules BEGIN "
        "INSERT INTO rule_changes (rule_id, chat_id) VALUES (OLD.id, OLD.chat_id); END"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS rule_changes_update AFTER UPDATE ON rules BEGIN "
        "INSERT INTO rule_changes (rule_id, chat_id) VALUES (OLD.id, OLD.chat_id); "
        "INSERT INTO rule_changes (rule_id, chat_id) VALUES (NEW.id, NEW.chat_id); END"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS rule_changes_chat AFTER UPDATE ON chats "
        "WHEN OLD.settings IS NOT NEW.settings OR OLD.tz IS NOT NEW.tz OR OLD.active IS NOT NEW.active "
        "OR OLD.type IS NOT NEW.type BEGIN "
        "INSERT INTO rule_changes (rule_id, chat_id) VALUES (NULL, NEW.id); END"
    )
    db.execute(
        "CREATE TRIGGER IF NOT EXISTS rule_changes_chat_delete AFTER DELETE ON chats BEGIN "
        "INSERT INTO rule_changes (rule_id, chat_id) VALUES (NULL, OLD.id); END"
    )
