"""Alert texts of the debt ledger (issue 14): a ledger change (``debt``) and a maturity or put date
coming up (``maturity``). Only figures the documents state: a term no document gives is left out,
never guessed."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from bot.delivery.messages import truncate
from watchers.ledger.filings_api import format_usd_short

MAX_LINES = 8  # further changes of the same document are counted, not listed

_KIND_WORDS = {
    "convertible_notes": "converts",
    "senior_notes": "senior notes",
    "secured_notes": "secured notes",
}


def usd(x: Any) -> str:
    return format_usd_short(float(x)) if isinstance(x, int | float) and not isinstance(x, bool) else "—"


def _pct(x: Any) -> str:
    return f"{x:g}%" if isinstance(x, int | float) else ""


def _new_words(c: Mapping[str, Any]) -> str:
    """ "$850M 0% converts due 2031" from what the document states; the filing's name otherwise."""
    noun = _KIND_WORDS.get(str(c.get("tranche_kind")))
    year = str(c.get("maturity") or "")[:4]
    amount = usd(c.get("after_usd")) + " " if c.get("after_usd") is not None else ""
    if noun is None:  # a facility or loan: the filing's own name, which often carries its size
        held = f" ({usd(c.get('after_usd'))} outstanding)" if c.get("after_usd") is not None else ""
        return f"{c.get('instrument')}{held}"
    coupon = _pct(c.get("coupon_pct"))
    return f"{amount}{coupon + ' ' if coupon else ''}{noun}{' due ' + year if year.isdigit() else ''}"


def change_line(ticker: str, c: Mapping[str, Any]) -> str:
    kind, name = c.get("kind"), str(c.get("instrument"))
    if kind == "new_tranche":
        return f"{ticker} adds {_new_words(c)}"
    if kind == "outstanding_changed":
        return f"{ticker} {name}: outstanding {usd(c.get('before_usd'))} → {usd(c.get('after_usd'))}"
    if kind == "dropped_from_report":
        return f"{ticker} {name}: not in the latest report (was {usd(c.get('before_usd'))})"
    words = (str(t).removesuffix("_usd").removesuffix("_pct").replace("_", " ") for t in c.get("terms") or ())
    terms = ", ".join(words)
    return f"{ticker} {name}: {terms or 'terms'} changed"


def _headline(changes: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The change a reader must see first: the largest new tranche, else the largest move."""

    def weight(c: Mapping[str, Any]) -> tuple[int, float]:
        rank = {"new_tranche": 3, "outstanding_changed": 2, "dropped_from_report": 1}.get(
            str(c.get("kind")), 0
        )
        move = abs(float(c.get("after_usd") or 0) - float(c.get("before_usd") or 0))
        return rank, move

    return max(changes, key=weight)


def document_link(data: Mapping[str, Any]) -> str:
    what = " ".join(str(x) for x in (data.get("form"), data.get("period") or data.get("filed")) if x)
    url = str(data.get("document") or "")
    if url.startswith(("http://", "https://")):
        return f'<a href="{escape(url, quote=True)}">{escape(what or "filing")}</a>'
    return escape(f"{what} {url}".strip())


def debt_message(data: Mapping[str, Any], links: Mapping[str, str]) -> str:
    """``MARA adds $850M 0% converts due 2031: debt $2.6B → $3.4B``, then the other changes the same
    document made, then the filing it came from."""
    ticker = str(data.get("ticker") or "?")
    changes = list(data.get("changes") or [])
    if not changes:
        return truncate(f"🏦 <b>{escape(ticker)} debt ledger updated</b>\n{document_link(data)}")
    head = _headline(changes)
    before, after = data.get("total_before_usd"), data.get("total_after_usd")
    moved = before is not None and before != after
    total = f": debt {usd(before)} → {usd(after)}" if moved else f": debt {usd(after)}"
    lines = [f"🏦 <b>{escape(change_line(ticker, head) + total)}</b>"]
    rest = [c for c in changes if c is not head]
    lines += [f"• {escape(change_line(ticker, c))}" for c in rest[:MAX_LINES]]
    if len(rest) > MAX_LINES:
        lines.append(f"… and {len(rest) - MAX_LINES} more changes (/debt {escape(ticker)})")
    as_of = f" · as of {escape(str(data['as_of']))}" if data.get("as_of") else ""
    lines.append(f"{document_link(data)}{as_of} · /debt {escape(ticker)} · <code>debt</code>")
    return truncate("\n".join(lines))


def maturity_message(data: Mapping[str, Any], links: Mapping[str, str]) -> str:
    """``RIOT 0.75% Convertible Senior Notes due 2030: holder put 2028-01-15, in 45 days``."""
    ticker = str(data.get("ticker") or "?")
    what = "holder put" if data.get("what") == "put" else "matures"
    days = data.get("days_left")
    left = f", in {days} days" if isinstance(days, int) else ""
    amount = f" · {usd(data.get('outstanding_usd'))} outstanding" if data.get("outstanding_usd") else ""
    within = data.get("within_s")
    rule = f"maturity < {int(within) // 86400}d" if isinstance(within, int) else "maturity"
    fact = f"{ticker} {data.get('instrument')}: {what} {data.get('date')}{left}"
    head = f"⏳ <b>{escape(fact)}</b>"
    src = document_link({"form": data.get("form"), "document": data.get("document")})
    return truncate(f"{head}\n{src}{escape(amount)} · /debt {escape(ticker)} · <code>{escape(rule)}</code>")
