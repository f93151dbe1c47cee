"""Text of a filing: visible text of EDGAR HTML on one line, 8-K items, the body after the cover,
forward-looking boilerplate removed; amounts, dates and sentences. Pure: no I/O."""

from __future__ import annotations

import re
import warnings
from datetime import datetime

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

# --------------------------------------------------------------------------------------------------
# Text


def html_to_text(document: str) -> str:
    """Visible text of an EDGAR HTML/iXBRL document on one line; plain text passes through.

    Drops scripts, styles and the hidden inline-XBRL header (``ix:header``: the run of CIKs and
    dates at the top of an iXBRL 8-K), and normalises quotes, dashes and spaces."""
    if "<" in document[:2000] and re.search(r"<\s*(html|body|div|p|table|font|document)\b", document, re.I):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            soup = BeautifulSoup(document, "lxml")
        for tag in soup(["script", "style", "head", "title"]):
            tag.decompose()
        for tag in soup.find_all(re.compile(r"^ix:header$", re.I)):
            tag.decompose()
        text = soup.get_text(" ")
    else:
        text = document
    return _normalise(text)


_TRANSLATE = str.maketrans(
    {
        "\u00a0": " ",
        "\u2007": " ",
        "\u202f": " ",
        "\u200b": "",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\ufeff": "",
    }
)


def _normalise(text: str) -> str:
    text = text.translate(_TRANSLATE)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\$\s+(?=\d)", "$", text)  # "$ 500" -> "$500"
    text = re.sub(r"(?<=\d)\s+%", "%", text)  # "0.00 %" -> "0.00%"
    return text.strip()


_ITEM_RE = re.compile(r"\bItem\s+(\d\.\d{2})\b", re.I)


def items_in_text(text: str) -> list[str]:
    """8-K item numbers named in the body, in order, once each."""
    body = _body(text)
    seen: list[str] = []
    for m in _ITEM_RE.finditer(body):
        if m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def _body(text: str) -> str:
    """The part after an 8-K cover page: from the first "Item N.NN". Other documents: all of it."""
    m = _ITEM_RE.search(text)
    return text[m.start() :] if m else text


_FLS_RE = re.compile(
    r"(?:Cautionary\s+(?:Note|Statement)s?\s+Regarding\s+)?Forward[- ]Looking\s+Statements?\b.{0,4000}?"
    r"(?:required\s+by\s+(?:applicable\s+)?law\.|$)",
    re.I,
)


def _strip_forward_looking(text: str) -> str:
    return _FLS_RE.sub(" ", text)


# --------------------------------------------------------------------------------------------------
# Amounts, dates, numbers

_AMOUNT = r"(?:US)?\$(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s*(billion|million|thousand|bn|mm)\b)?"
_AMOUNT_RE = re.compile(_AMOUNT, re.I)
_SCALE = {"billion": 1e9, "bn": 1e9, "million": 1e6, "mm": 1e6, "thousand": 1e3}
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = rf"({_MONTHS})\s+(\d{{1,2}}),?\s+(\d{{4}})"
_MONTH_NUM = {name.lower(): i + 1 for i, name in enumerate(_MONTHS.split("|"))}


def _money(number: str, scale: str | None) -> float:
    value = float(number.replace(",", ""))
    return value * _SCALE.get((scale or "").lower(), 1.0)


def _date_iso(month: str, day: str, year: str) -> str | None:
    try:
        return datetime(int(year), _MONTH_NUM[month.lower()], int(day)).strftime("%Y-%m-%d")
    except (ValueError, KeyError):
        return None


def _sentences(text: str) -> list[tuple[int, str]]:
    """(start offset, sentence). Splits on ". " before a capital or "(", keeping "U.S." and "$1.5" whole."""
    out: list[tuple[int, str]] = []
    start = 0
    for m in re.finditer(r"(?<![A-Z])(?<!\b[a-z])\.\s+(?=[A-Z(\"])", text):
        out.append((start, text[start : m.end()]))
        start = m.end()
    out.append((start, text[start:]))
    return out


def _sentence_at(text: str, pos: int) -> str:
    left = text.rfind(". ", 0, pos)
    right = text.find(". ", pos)
    return text[left + 2 if left >= 0 else 0 : right + 1 if right >= 0 else len(text)]
