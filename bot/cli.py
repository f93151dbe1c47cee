"""``python -m bot``: run | once [--json] | check | filing PATH_OR_URL [--json] |
ledger [TICKER] [--json] | ledger build FILE... [--json] | ledger sync; --config on each."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bot.logs import setup_logging
from bot.settings import ConfigError, Settings, check_runnable, load_settings, masked_dump
from rules.data import Observation
from storage.db import UnusableDatabase, check_db
from watchers.base import PollContext


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="MinerWatch: Telegram alerts for Bitcoin miners"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="path to config.toml (default: $MINERWATCH_CONFIG or ./config.toml)")
    sub.add_parser("run", parents=[common], help="run the bot (needs TELEGRAM_BOT_TOKEN)")
    once = sub.add_parser(
        "once", parents=[common], help="poll every enabled source once and print the snapshot"
    )
    once.add_argument("--json", action="store_true", help="print JSON: {metrics, sources, notes, errors}")
    sub.add_parser("check", parents=[common], help="validate the config and print it, secrets masked")
    filing = sub.add_parser("filing", parents=[common], help="classify one filing and extract its terms")
    filing.add_argument("document", help="path or URL of a filing document (HTML or text)")
    filing.add_argument("--json", action="store_true", help='print {"kind": ..., "terms": {...}}')
    production = sub.add_parser(
        "production", help="a miner's production history from local documents (production build --help)"
    )
    production.add_argument("rest", nargs=argparse.REMAINDER)
    ledger = sub.add_parser(
        "ledger",
        parents=[common],
        help="the debt ledger: show it, build one from local filings, or sync it from EDGAR",
        description="ledger [TICKER] [--json]: the stored ledger(s); ledger build FILE... [--json]: a "
        "ledger from local filing documents in filing order (the bot's own code, a private in-memory "
        "database); ledger sync: read each watched miner's filing history from EDGAR (resumable)",
    )
    ledger.add_argument("words", nargs="*", metavar="TICKER | build FILE... | sync")
    ledger.add_argument("--json", action="store_true", help="print JSON")
    ledger.add_argument("--db", help="database path (default: [storage] path of the config)")
    return parser


def _load(path: str | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as err:
        print(f"minerwatch: {err}", file=sys.stderr)
        raise SystemExit(2) from err


def cmd_run(settings: Settings) -> int:
    from bot.app import ALLOWED_UPDATES, MissingTokenError, build_application, create_services

    token = settings.telegram.token
    setup_logging(secrets=[token.get_secret_value()] if token else [])
    try:
        if token is None or not token.get_secret_value().strip():
            raise MissingTokenError(
                "No Telegram bot token. Create a bot with @BotFather in Telegram (/newbot), then put its "
                "token in the environment: export TELEGRAM_BOT_TOKEN=123456:ABC... "
                "(or MINERWATCH_TELEGRAM__TOKEN), and run `make run` again."
            )
        check_runnable(settings)  # what `check` refuses, `run` refuses, by the same function
        svc = create_services(settings)
        app = build_application(svc)
    except (MissingTokenError, ConfigError, ValueError, UnusableDatabase) as err:
        print(f"minerwatch: {err}", file=sys.stderr)
        return 2
    # run_polling stops on SIGINT/SIGTERM (what Procfile hosts send) and then runs post_shutdown:
    # stop polling, flush the outbox, close the session and the database.
    app.run_polling(allowed_updates=ALLOWED_UPDATES, timeout=settings.telegram.poll_timeout_s)
    return 0


async def poll_once(settings: Settings) -> dict[str, Any]:
    from bot.registry import build_watchers
    from bot.services import utc_now

    metrics: dict[str, float] = {}
    sources: dict[str, str] = {}
    errors: dict[str, str] = {}
    notes: dict[str, str] = {}  # "delayed", "market closed: last price at ..."
    events: list[dict[str, Any]] = []
    quotes: list[Observation] = []
    async with aiohttp.ClientSession() as session:
        for sw in build_watchers(settings):
            try:
                result = await sw.watcher.poll(PollContext(session=session, now=utc_now(), state={}))
            except Exception as exc:
                errors[sw.watcher.id] = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                continue
            for obs in result.observations:
                metrics[obs.metric] = obs.value
                sources[obs.metric] = obs.source
                if obs.metric.startswith("stock."):
                    quotes.append(obs)
            errors.update(result.errors)
            notes.update(result.notes)
            events += [{"kind": e.kind, "key": e.key, **dict(e.data)} for e in result.events if e.announce]
    if quotes and settings.storage.path and Path(settings.storage.path).exists():
        # mcap, convert, dilution, leverage: the fresh price with the stored share count and ledger
        from bot.engine.equity import derive_with_price
        from storage.db import open_db

        db = open_db(settings.storage.path)
        try:
            for d, inputs in (x for obs in quotes for x in derive_with_price(db, obs)):
                metrics[d.metric], sources[d.metric], notes[d.metric] = d.value, d.source, inputs
        finally:
            db.close()
    return {"metrics": metrics, "sources": sources, "notes": notes, "errors": errors, "events": events}


def cmd_once(settings: Settings, as_json: bool) -> int:
    setup_logging(level="WARNING")
    try:
        snapshot = asyncio.run(poll_once(settings))
    except (ValueError, UnusableDatabase) as err:
        print(f"minerwatch: {err}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(snapshot, indent=2, sort_keys=True, default=str))
    else:
        from rules.catalogue import format_value

        for name in sorted(snapshot["metrics"]):
            value = snapshot["metrics"][name]
            note = f" {snapshot['notes'][name]}" if name in snapshot["notes"] else ""
            print(f"{name:32} {format_value(name, value):>28}  ({snapshot['sources'][name]}){note}")
        for source, message in sorted(snapshot["errors"].items()):
            print(f"ERROR {source}: {message}")
    return 1 if snapshot["errors"] else 0


def cmd_check(settings: Settings, path: str | None) -> int:
    from bot.settings import resolve_config_path

    try:
        check_runnable(settings)  # the same refusals as `run`
        check_db(settings.storage.path)
    except (ConfigError, UnusableDatabase) as err:
        print(f"minerwatch: {err}", file=sys.stderr)
        return 2
    print(f"# config OK: {resolve_config_path(path)}")
    print(json.dumps(masked_dump(settings), indent=2, sort_keys=True))
    if settings.telegram.token is None:
        print("# note: no Telegram token set; `run` needs TELEGRAM_BOT_TOKEN", file=sys.stderr)
    return 0


def cmd_filing(settings: Settings, document: str, as_json: bool) -> int:
    from bot.delivery.production_messages import operations_lines
    from watchers.filings.analyse import analyse_filing
    from watchers.filings.client import fetch_filing_document
    from watchers.filings.operations import extract_operations

    if document.startswith(("http://", "https://")):

        async def fetch() -> str:
            async with aiohttp.ClientSession() as session:
                return await fetch_filing_document(session, settings.sources.edgar, document)

        try:
            text = asyncio.run(fetch())
        except Exception as err:
            print(f"minerwatch: could not fetch {document}: {err}", file=sys.stderr)
            return 1
    else:
        path = Path(document)
        if not path.exists():
            print(f"minerwatch: no such file: {document}", file=sys.stderr)
            return 1
        text = path.read_text(encoding="utf-8", errors="replace")
    info = analyse_filing(text)
    operations = extract_operations(text)
    if as_json:
        print(json.dumps({**info.to_json(), "operations": operations.to_json()}, indent=2, sort_keys=True))
    else:
        print(f"kind: {info.kind}")
        for key, value in info.terms.items():
            print(f"{key}: {value if value is not None else '-'}")
        for line in operations_lines(operations):
            print(line)
    return 0


def cmd_ledger(settings: Settings, words: list[str], as_json: bool, db_path: str | None) -> int:
    from bot import ledger_cli

    if words[:1] == ["sync"]:
        if len(words) > 1:
            print("minerwatch: ledger sync takes no arguments", file=sys.stderr)
            return 2
        return cmd_ledger_sync(settings, db_path)
    if words[:1] == ["build"] and len(words) < 2:
        print("minerwatch: ledger build needs at least one FILE", file=sys.stderr)
        return 2
    if words[:1] != ["build"] and len(words) > 1:
        print("minerwatch: ledger takes one TICKER at most (or: build FILE..., sync)", file=sys.stderr)
        return 2
    argv = [*words, *(["--json"] if as_json else []), *(["--db", db_path] if db_path else [])]
    if words[:1] == ["build"] and db_path:
        argv = argv[:-2]  # build uses its own in-memory database
    return ledger_cli.main(argv, db_path=settings.storage.path)


def cmd_ledger_sync(settings: Settings, db_path: str | None) -> int:
    """Each watched miner's filing history from EDGAR into the ledger, with progress on stdout."""
    from bot.engine import production_history
    from bot.engine.dbworker import DbWorker
    from bot.engine.ledger import bootstrap
    from bot.services import utc_now
    from storage.db import open_db
    from watchers.filings.config import EdgarConfigError, require_user_agent

    setup_logging(level="WARNING")
    try:
        require_user_agent(settings.sources.edgar)
    except EdgarConfigError as err:
        print(f"minerwatch: {err}", file=sys.stderr)
        return 2
    path = Path(db_path) if db_path else settings.storage.path
    path.parent.mkdir(parents=True, exist_ok=True)
    tickers = [t.strip().upper() for t in settings.watchers.filings.tickers if t.strip()]

    async def sync() -> int:
        db = DbWorker(open_db(path))
        try:
            async with aiohttp.ClientSession() as session:
                run = await bootstrap(
                    db,
                    session,
                    settings.sources.edgar,
                    tickers,
                    utc_now,
                    years=settings.watchers.ledger.years,
                    say=lambda line: print(line, flush=True),
                )
                history = None
                if not run.stopped:  # then the miners' past production releases (issue 19)
                    history = await production_history.backfill(
                        db,
                        session,
                        settings.sources.edgar,
                        tickers,
                        utc_now,
                        years=settings.watchers.ledger.years,
                        say=lambda line: print(line, flush=True),
                    )
        finally:
            db.close()
        print(f"ledger sync: {run.applied} documents applied, {len(run.skipped)} skipped")
        if history is not None:
            print(f"production history: {history.stored} of {history.read} filings read had figures")
        stopped = run.stopped or (history.stopped if history else None)
        if stopped:
            print(f"ledger sync: stopped early ({stopped}); run it again to resume")
            return 1
        return 0

    return asyncio.run(sync())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["production"]:  # its own parser: bot/production_cli.py
        from bot.production_cli import main as production_main

        return production_main(argv[1:])
    args = _parser().parse_args(argv)
    settings = _load(args.config)
    if args.command == "run":
        return cmd_run(settings)
    if args.command == "once":
        return cmd_once(settings, args.json)
    if args.command == "check":
        return cmd_check(settings, args.config)
    if args.command == "filing":
        return cmd_filing(settings, args.document, args.json)
    if args.command == "ledger":
        return cmd_ledger(settings, list(args.words), args.json, args.db)
    return 2
