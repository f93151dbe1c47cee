"""A listed miner's debt ledger, tranche by tranche, and the pure logic that builds it (issue 14).

Documents (a 10-Q/10-K debt footnote, an 8-K/424B issuance) are read elsewhere into a
:class:`LedgerDocument`; here they are applied in filing order:

* a tranche of the document is matched to one already in the ledger (same kind, and the same
  maturity year and coupon, or the same defined name such as "2030 Notes", or the same commitment
  for a facility); every term the document states replaces the ledger's value when the document is
  at least as new as the one that gave it (newer filing wins), and a different value is recorded as
  a :class:`Disagreement`; a term the document does not state is left as it was (a 10-Q that does
  not repeat the conversion rate does not erase it);
* a periodic report (10-Q/10-K/20-F/40-F) is the full list of debt at its period end: a tranche it
  does not name stays in the ledger, flagged as not in the latest report, and is left out of totals;
* every term remembers the document it came from (:attr:`Tranche.cited`), so every number shown
  can cite its filing. Nothing is estimated: a term no document states stays ``None``.

Pure: no I/O and no clock; "now" is passed to the functions that need it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from rules.data import Observation

KINDS = ("convertible_notes", "senior_notes", "secured_notes", "credit_facility", "other_debt")
CONVERTIBLE = "convertible_notes"
PERIODIC_FORMS = ("10-Q", "10-K", "20-F", "40-F", "10-KT", "10-QT")

# The terms of a tranche that documents state, in the JSON order of the CLI item.
TERMS = (
    "original_principal_usd",
    "outstanding_principal_usd",
    "coupon_pct",
    "maturity",
    "conversion_rate_per_1000",
    "conversion_price_usd",
    "secured",
    "put_date",
    "call_date",
    "capped_call",
    "cap_price_usd",
    "status",
    "soft_call_pct",
)
JSON_TERMS = TERMS[:7]  # the tranche keys the JSON shape names (besides instrument, kind, sources)


@dataclass(frozen=True, slots=True)
class Source:
    """One filing document a number came from."""

    form: str  # "10-Q", "8-K", "424B5"
    period: str | None  # period end (periodic reports) or None
    document: str  # file name or URL of the document as given
    accession: str | None = None
    filed: str | None = None  # ISO date when known

    @property
    def rank(self) -> str:
        """Orders documents by the time they speak for: the period end, else the filing date."""
        return self.period or self.filed or ""

    def to_json(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "period": self.period,
            "document": self.document,
            "accession": self.accession,
            "filed": self.filed,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Source:
        return cls(d["form"], d.get("period"), d["document"], d.get("accession"), d.get("filed"))


@dataclass(frozen=True, slots=True)
class Tranche:
    instrument: str  # as the filing names it: "0.75% Convertible Senior Notes due 2030"
    kind: str  # one of KINDS
    original_principal_usd: float | None = None
    outstanding_principal_usd: float | None = None  # principal, never the carrying amount
    coupon_pct: float | None = None  # stated rate; for floating facilities the rate at period end
    maturity: str | None = None  # "YYYY-MM-DD", "YYYY-MM" or "YYYY": as precise as the filing
    conversion_rate_per_1000: float | None = None
    conversion_price_usd: float | None = None
    secured: bool | None = None
    put_date: str | None = None  # a dated holder put, when stated
    call_date: str | None = None  # first date the issuer may redeem, when stated
    capped_call: bool | None = None
    cap_price_usd: float | None = None
    status: str | None = None  # outstanding | repaid | matured | converted | subsequent | None
    # the issuer may redeem once the stock has traded at this % of the conversion price (the
    # "soft call", e.g. 130), only where the filing states it
    soft_call_pct: float | None = None
    aliases: tuple[str, ...] = ()  # defined terms: "2030 Notes", "$50 Million Credit Facility"
    sources: tuple[Source, ...] = ()
    cited: Mapping[str, Source] = field(default_factory=dict)  # term -> the document that stated it
    in_latest_report: bool = True

    @property
    def key(self) -> str:
        """A stable identity for storage: kind plus maturity year and coupon, or the name."""
        year = (self.maturity or "")[:4]
        if self.kind in ("convertible_notes", "senior_notes", "secured_notes") and year:
            coupon = "" if self.coupon_pct is None else f"{self.coupon_pct:g}"
            return f"{self.kind}:{coupon}:{year}"
        return f"{self.kind}:{'-'.join(sorted(name_tokens(self.instrument)))[:80]}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"instrument": self.instrument, "kind": self.kind}
        for term in JSON_TERMS:
            out[term] = getattr(self, term)
        out["sources"] = [s.to_json() for s in self.sources]
        return out

    def to_full_json(self) -> dict[str, Any]:
        """Everything, for storage: the JSON shape plus the extra terms, aliases and citations."""
        out = self.to_json()
        for term in TERMS[7:]:
            out[term] = getattr(self, term)
        out["aliases"] = list(self.aliases)
        out["cited"] = {t: s.to_json() for t, s in sorted(self.cited.items())}
        out["in_latest_report"] = self.in_latest_report
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Tranche:
        return cls(
            instrument=d["instrument"],
            kind=d["kind"],
            **{t: d.get(t) for t in TERMS},
            aliases=tuple(d.get("aliases") or ()),
            sources=tuple(Source.from_json(s) for s in d.get("sources") or ()),
            cited={t: Source.from_json(s) for t, s in (d.get("cited") or {}).items()},
            in_latest_report=bool(d.get("in_latest_report", True)),
        )


@dataclass(frozen=True, slots=True)
class SharesOutstanding:
    """Common shares outstanding as a periodic report's cover states them
    (``dei:EntityCommonStockSharesOutstanding``): the count and the date it is given for, which is
    usually weeks after the period end."""

    shares: float
    as_of: str  # ISO date of the count, as the cover states it
    source: Source  # the report whose cover said so

    def to_json(self) -> dict[str, Any]:
        return {"shares": self.shares, "as_of": self.as_of, "source": self.source.to_json()}


@dataclass(frozen=True, slots=True)
class LedgerDocument:
    """What one filing document says about a company's debt."""

    source: Source
    ticker: str | None
    company: str | None = None
    cik: str | None = None
    tranches: tuple[Tranche, ...] = ()
    notes: tuple[str, ...] = ()  # values dropped by the checks, and why (one line each)
    shares: SharesOutstanding | None = None  # a periodic report's cover count, when it states one

    @property
    def periodic(self) -> bool:
        return self.source.form.upper().removesuffix("/A") in PERIODIC_FORMS


@dataclass(frozen=True, slots=True)
class Disagreement:
    instrument: str
    term: str
    old: Any
    new: Any
    old_source: Source | None
    new_source: Source

    def to_json(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "term": self.term,
            "old": self.old,
            "new": self.new,
            "old_source": self.old_source.to_json() if self.old_source else None,
            "new_source": self.new_source.to_json(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Disagreement:
        old = d.get("old_source")
        return cls(
            d["instrument"],
            d["term"],
            d.get("old"),
            d.get("new"),
            Source.from_json(old) if old else None,
            Source.from_json(d["new_source"]),
        )

    def line(self) -> str:
        was = self.old_source.document if self.old_source else "?"
        now = self.new_source.document
        return f"{self.instrument}: {self.term} {self.old!r} ({was}) -> {self.new!r} ({now})"


@dataclass(frozen=True, slots=True)
class Ledger:
    ticker: str
    tranches: tuple[Tranche, ...] = ()
    documents: tuple[Source, ...] = ()  # applied, in order
    disagreements: tuple[Disagreement, ...] = ()
    latest_period: str | None = None  # period end of the newest periodic report applied

    # ------------------------------------------------------------------ figures

    def current(self) -> list[Tranche]:
        return [t for t in self.tranches if t.in_latest_report]

    @property
    def total_debt_principal_usd(self) -> float | None:
        amounts = [
            t.outstanding_principal_usd for t in self.current() if t.outstanding_principal_usd is not None
        ]
        return round(sum(amounts), 2) if amounts else None

    @property
    def convertible_principal_usd(self) -> float | None:
        amounts = [
            t.outstanding_principal_usd
            for t in self.current()
            if t.kind == CONVERTIBLE and t.outstanding_principal_usd is not None
        ]
        return round(sum(amounts), 2) if amounts else None

    def weighted_coupon_pct(self) -> float | None:
        pairs = [
            (t.outstanding_principal_usd, t.coupon_pct) for t in self._live() if t.coupon_pct is not None
        ]
        return _weighted(pairs)

    def weighted_maturity_years(self, today: date) -> float | None:
        """Outstanding-weighted years to maturity. A maturity stated only as a year or a month
        counts at the last day it allows (the filing says no more)."""
        pairs = []
        for t in self._live():
            when = latest_date(t.maturity)
            if when is not None:
                pairs.append((t.outstanding_principal_usd, max(0.0, (when - today).days / 365.25)))
        return _weighted(pairs)

    def maturity_wall(self) -> dict[int, float]:
        """Principal outstanding by year of maturity."""
        wall: dict[int, float] = {}
        for t in self._live():
            if t.maturity and t.maturity[:4].isdigit():
                year = int(t.maturity[:4])
                wall[year] = wall.get(year, 0.0) + float(t.outstanding_principal_usd or 0.0)
        return dict(sorted(wall.items()))

    def next_date(self, today: date) -> tuple[str, str, Tranche] | None:
        """The next maturity or holder put on or after ``today``: (date, "maturity"|"put", tranche)."""
        found: list[tuple[date, str, str, Tranche]] = []
        for t in self._live():
            for what, text in (("maturity", t.maturity), ("put", t.put_date)):
                when = latest_date(text)
                if when is not None and when >= today:
                    found.append((when, text or "", what, t))
        if not found:
            return None
        found.sort(key=lambda x: x[0])
        return found[0][1], found[0][2], found[0][3]

    def _live(self) -> list[Tranche]:
        return [t for t in self.current() if (t.outstanding_principal_usd or 0) > 0]

    def to_json(self) -> dict[str, Any]:
        return {
            "tranches": [t.to_json() for t in self.current()],
            "total_debt_principal_usd": self.total_debt_principal_usd,
            "as_of": self.latest_period,
            "not_in_latest_report": [t.to_json() for t in self.tranches if not t.in_latest_report],
            "documents": [s.to_json() for s in self.documents],
            "disagreements": [d.line() for d in self.disagreements],
        }

    def to_state(self) -> dict[str, Any]:
        """Everything, for storage; :meth:`from_state` gives the same ledger back."""
        return {
            "ticker": self.ticker,
            "tranches": [t.to_full_json() for t in self.tranches],
            "documents": [s.to_json() for s in self.documents],
            "disagreements": [d.to_json() for d in self.disagreements],
            "latest_period": self.latest_period,
        }

    @classmethod
    def from_state(cls, d: Mapping[str, Any]) -> Ledger:
        return cls(
            ticker=d["ticker"],
            tranches=tuple(Tranche.from_json(t) for t in d.get("tranches") or ()),
            documents=tuple(Source.from_json(s) for s in d.get("documents") or ()),
            disagreements=tuple(Disagreement.from_json(x) for x in d.get("disagreements") or ()),
            latest_period=d.get("latest_period"),
        )


def debt_metric(ticker: str) -> str:
    """The metric a ledger's total is charted and thresholded as: ``debt.mara`` (USD)."""
    return f"debt.{ticker.lower()}"


def debt_observation(ledger: Ledger, at: datetime) -> Observation | None:
    """The ledger's total principal outstanding as an observation, or None when no total is stated."""
    total = ledger.total_debt_principal_usd
    if total is None:
        return None
    return Observation(metric=debt_metric(ledger.ticker), value=float(total), at=at, source="sec-filings")


def _weighted(pairs: Iterable[tuple[float | None, float]]) -> float | None:
    num = den = 0.0
    for weight, value in pairs:
        if weight:
            num += weight * value
            den += weight
    return round(num / den, 6) if den else None


def latest_date(text: str | None) -> date | None:
    """The last day a maturity text allows: "2030" -> 2030-12-31, "2035-12" -> 2035-12-31."""
    if not text:
        return None
    m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
    if not m:
        return None
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    if day:
        return date(year, int(month), int(day))
    if month:
        nxt = date(year + int(month) // 12, int(month) % 12 + 1, 1)
        return date.fromordinal(nxt.toordinal() - 1)
    return date(year, 12, 31)


# ---------------------------------------------------------------------------------------- matching

_STOP = {
    "the",
    "a",
    "an",
    "of",
    "and",
    "with",
    "in",
    "by",
    "under",
    "its",
    "company",
    "s",
    "notes",
    "note",
    "due",
    "million",
    "inc",
    "entered",
    "as",
}


def name_tokens(name: str) -> set[str]:
    words = re.findall(r"[a-z]+|\d+(?:\.\d+)?", name.lower().replace("%", " pct "))
    return {w for w in words if w not in _STOP}


def _amounts_in(name: str) -> set[str]:
    return {m.replace(",", "") for m in re.findall(r"\$\s?([\d,.]+)\s*(?:million|billion)", name, re.I)}


def same_tranche(a: Tranche, b: Tranche) -> bool:
    """Whether two readings describe the same instrument."""
    if a.kind != b.kind:
        return False
    ya, yb = (a.maturity or "")[:4], (b.maturity or "")[:4]
    if a.kind in ("convertible_notes", "senior_notes", "secured_notes") and ya and yb:
        if ya != yb:
            return False
        ca, cb = a.coupon_pct, b.coupon_pct
        return ca is None or cb is None or abs(ca - cb) <= 1e-9
    aliases_a = {x.lower() for x in (a.instrument, *a.aliases)}
    aliases_b = {x.lower() for x in (b.instrument, *b.aliases)}
    if aliases_a & aliases_b:
        return True
    amounts_a, amounts_b = _amounts_in(" ".join(aliases_a)), _amounts_in(" ".join(aliases_b))
    if amounts_a and amounts_b:
        return bool(amounts_a & amounts_b)
    ta, tb = name_tokens(a.instrument), name_tokens(b.instrument)
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= 0.6


# ---------------------------------------------------------------------------------------- applying


def apply_document(ledger: Ledger, doc: LedgerDocument) -> Ledger:
    """The ledger after one more document, applied in filing order (see the module docstring)."""
    src = doc.source
    tranches = list(ledger.tranches)
    disagreements = list(ledger.disagreements)
    seen: set[int] = set()
    for incoming in doc.tranches:
        idx = next((i for i, t in enumerate(tranches) if i not in seen and same_tranche(t, incoming)), None)
        if idx is None:
            tranches.append(_cite(incoming, src))
            seen.add(len(tranches) - 1)
            continue
        merged, found = _merge(tranches[idx], incoming, src)
        tranches[idx] = merged
        disagreements.extend(found)
        seen.add(idx)
    latest = ledger.latest_period
    if doc.periodic and doc.tranches and (latest is None or (src.period or "") >= latest):
        latest = src.period
        # The newest report lists every tranche at its period end; older ones it does not name are
        # kept for the record but no longer counted. Issuances after its period end still count.
        tranches = [
            replace(t, in_latest_report=(i in seen) or _after(t, latest)) for i, t in enumerate(tranches)
        ]
    return Ledger(
        ticker=ledger.ticker,
        tranches=tuple(tranches),
        documents=(*ledger.documents, src),
        disagreements=tuple(disagreements),
        latest_period=latest,
    )


def _after(t: Tranche, period: str | None) -> bool:
    return bool(period) and any(not s.period and (s.filed or "") > (period or "") for s in t.sources)


def _cite(t: Tranche, src: Source) -> Tranche:
    cited = {term: src for term in TERMS if getattr(t, term) is not None}
    return replace(t, sources=(src,), cited=cited, in_latest_report=True)


def _merge(old: Tranche, new: Tranche, src: Source) -> tuple[Tranche, list[Disagreement]]:
    changes: dict[str, Any] = {}
    cited = dict(old.cited)
    found: list[Disagreement] = []
    for term in TERMS:
        value = getattr(new, term)
        if value is None:
            continue
        current, was = getattr(old, term), old.cited.get(term)
        if isinstance(current, str) and isinstance(value, str) and current.startswith(value):
            continue  # "2030" after "2030-01-15": the same date said less precisely, not a change
        if was is not None and src.rank < was.rank:
            if current is None:
                changes[term], cited[term] = value, src
            continue  # an older document never overrides a newer one
        if current is not None and not _equal(current, value):
            found.append(Disagreement(old.instrument, term, current, value, was, src))
        changes[term], cited[term] = value, src
    # The newest periodic report's wording names the instrument; an issuance names it first.
    name = (
        new.instrument if len(new.instrument) > len(old.instrument) and _fuller(new, old) else old.instrument
    )
    aliases = tuple(dict.fromkeys((*old.aliases, *new.aliases, new.instrument, old.instrument)))
    aliases = tuple(a for a in aliases if a != name)
    sources = old.sources if src in old.sources else (*old.sources, src)
    return (
        replace(
            old,
            **changes,
            instrument=name,
            aliases=aliases,
            sources=sources,
            cited=cited,
            in_latest_report=True,
        ),
        found,
    )


def _fuller(new: Tranche, old: Tranche) -> bool:
    return name_tokens(old.instrument) <= name_tokens(new.instrument)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= max(1e-9, 1e-6 * abs(float(a)))
    return a == b


@dataclass(frozen=True, slots=True)
class LedgerChange:
    """One change a document made to a ledger, for the ``debt`` alert (the bot words and announces it)."""

    ticker: str
    kind: str  # new_tranche | outstanding_changed | terms_changed | dropped_from_report
    instrument: str
    before_usd: float | None  # the tranche's principal outstanding before / after
    after_usd: float | None
    total_before_usd: float | None  # the ledger's total before / after
    total_after_usd: float | None
    terms: tuple[str, ...] = ()  # for terms_changed: which terms
    source: Source | None = None  # the document that made the change


def ledger_changes(before: Ledger, after: Ledger) -> list[LedgerChange]:
    """What changed between two states of one ledger, tranche by tranche (empty when nothing did)."""
    out: list[LedgerChange] = []
    totals = (before.total_debt_principal_usd, after.total_debt_principal_usd)
    src = after.documents[-1] if after.documents else None
    old_by_key = {_identity(t): t for t in before.tranches}
    for t in after.tranches:
        old = old_by_key.get(_identity(t))
        if old is None:
            old = next((o for o in before.tranches if same_tranche(o, t)), None)
        if old is None:
            out.append(
                LedgerChange(
                    after.ticker,
                    "new_tranche",
                    t.instrument,
                    None,
                    t.outstanding_principal_usd,
                    *totals,
                    source=src,
                )
            )
            continue
        if old.in_latest_report and not t.in_latest_report:
            out.append(
                LedgerChange(
                    after.ticker,
                    "dropped_from_report",
                    t.instrument,
                    old.outstanding_principal_usd,
                    None,
                    *totals,
                    source=src,
                )
            )
        elif not _equal_or_none(old.outstanding_principal_usd, t.outstanding_principal_usd):
            out.append(
                LedgerChange(
                    after.ticker,
                    "outstanding_changed",
                    t.instrument,
                    old.outstanding_principal_usd,
                    t.outstanding_principal_usd,
                    *totals,
                    source=src,
                )
            )
        changed = tuple(
            term
            for term in TERMS
            if term not in ("outstanding_principal_usd", "status")
            and not _equal_or_none(getattr(old, term), getattr(t, term))
        )
        if changed:
            out.append(
                LedgerChange(
                    after.ticker,
                    "terms_changed",
                    t.instrument,
                    old.outstanding_principal_usd,
                    t.outstanding_principal_usd,
                    *totals,
                    terms=changed,
                    source=src,
                )
            )
    return out


def _identity(t: Tranche) -> tuple[str, str]:
    return (t.kind, t.instrument)


def _equal_or_none(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return _equal(a, b)


def build(ticker: str, documents: Sequence[LedgerDocument]) -> Ledger:
    """A ledger from documents given in filing order."""
    ledger = Ledger(ticker=ticker)
    for doc in documents:
        ledger = apply_document(ledger, doc)
    return ledger
