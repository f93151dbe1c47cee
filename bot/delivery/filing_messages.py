"""A filing alert: the company and what it filed as the title, said once; the form, its time
and the link below it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any

from bot.delivery.messages import truncate
from watchers.filings.model import TERM_NAMES, FilingInfo
from watchers.filings.summary import filed_text, headline


def _filed_at(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def filing_message(data: Mapping[str, Any]) -> str:
    """📄 <b>MARA Holdings, Inc. (MARA): $1B convertible notes due 2030, incl. $150M option, 0%</b>
    8-K · filed 2024-11-21 16:05 ET · filing index

    An event stored before the title was built from its parts (only a ``summary``) keeps its
    summary as the title, with the kind added only when the summary does not already say it."""
    url = data.get("url")
    link = f'<a href="{escape(str(url), quote=True)}">filing index</a>' if url else "SEC EDGAR"
    terms = data.get("terms")
    filed_at = _filed_at(data.get("filed_at"))
    if data.get("company") and isinstance(terms, Mapping):
        info = FilingInfo(str(data.get("kind") or "other"), {**dict.fromkeys(TERM_NAMES), **terms})
        title = headline(company=str(data["company"]), ticker=data.get("ticker"), info=info)
        below = [str(data.get("form") or "filing")]
        if filed_at is not None:
            below.append(filed_text(filed_at))
        return truncate(f"📄 <b>{escape(title)}</b>\n{escape(' · '.join(below))} · {link}")
    summary = str(data.get("summary", "new filing"))
    kind_name = str(data.get("kind", "other")).replace("_", " ")
    said = kind_name.lower() in summary.lower()
    second = link if said else f"{escape(kind_name)} · {link}"
    return truncate(f"📄 <b>{escape(summary)}</b>\n{second}")
