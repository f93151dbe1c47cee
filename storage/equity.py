"""Shares outstanding per ticker (from periodic reports' covers) and the side of each conversion
price a stock is on (for the ``converts`` rule). All the SQL of issue 15's derived metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from rules.ledger import SharesOutstanding, Source
from storage.clock import iso, parse_iso


def save_shares(db: Database, ticker: str, count: SharesOutstanding, now: datetime) -> bool:
    """Store a cover's share count; True when it is new (the same report read again stores nothing)."""
    src = count.source
    cur = db.execute(
        "INSERT OR IGNORE INTO shares_outstanding (ticker, as_of, shares, document, form, period, accession, "
        "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ticker.upper(),
            count.as_of,
            count.shares,
            src.document,
            src.form,
            src.period,
            src.accession,
            iso(now),
        ],
    )
    return cur.rowcount == 1


def latest_shares(db: Database, ticker: str) -> SharesOutstanding | None:
    """The newest count for ``ticker`` (by the date the cover gives it for), or None."""
    rows = list(
        db.query(
            "SELECT * FROM shares_outstanding WHERE ticker = ? ORDER BY as_of DESC, recorded_at DESC LIMIT 1",
            [ticker.upper()],
        )
    )
    if not rows:
        return None
    r = rows[0]
    source = Source(
        form=r["form"] or "", period=r["period"], document=r["document"], accession=r["accession"]
    )
    return SharesOutstanding(shares=r["shares"], as_of=r["as_of"], source=source)


def level_sides(db: Database, ticker: str) -> dict[str, dict[str, Any]]:
    """level key -> {"side", "level_usd", "price", "since"} as last stored for ``ticker``."""
    rows = db.query("SELECT * FROM stock_levels WHERE ticker = ?", [ticker.upper()])
    return {
        r["level_key"]: {
            "side": r["side"],
            "level_usd": r["level_usd"],
            "price": r["price"],
            "since": parse_iso(r["since"]),
        }
        for r in rows
    }


def put_level_side(
    db: Database, ticker: str, level_key: str, side: str, level_usd: float, price: float, since: datetime
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO stock_levels (ticker, level_key, side, level_usd, price, since) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [ticker.upper(), level_key, side, level_usd, price, iso(since)],
    )
