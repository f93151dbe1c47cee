"""Bitcoin Core JSON-RPC: the self-hosted alternative to mempool for chain data.

``POST {url}`` with HTTP Basic auth (``rpcuser``/``rpcpassword``, or the ``.cookie`` file of the
datadir holding ``__cookie__:<hex>``), body ``{"jsonrpc": "1.0", "id": ..., "method": ..., "params":
[...]}``; the answer is ``{"result": ..., "error": null | {"code", "message"}, "id": ...}`` (HTTP 500
on an RPC error, 401 with an empty body on bad credentials). A JSON array of requests is a batch
and is answered with an array, matched back here by ``id``.

Calls used per poll: ``getblockchaininfo`` (refuse a node still in initial block download or whose
blocks lag its headers), ``getmininginfo`` (difficulty, height), ``getnetworkhashps 1008`` (the
same one-week window mempool uses, so failing over does not look like a hashrate jump), one batch
of ``getblockhash``/``getblockheader`` for the epoch, and one batch of ``getblockstats`` for the
blocks not yet in the fee cache. See ``/work/shared/reference/data-sources.md`` §2.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from watchers.base import SourceError, loads_json, request_bytes, require_number
from watchers.mempool import EPOCH_BLOCKS, RETARGET_MAX_PCT, RETARGET_MIN_PCT, EpochInfo, FeeStats

SOURCE = "bitcoind"
TARGET_BLOCK_S = 600
HASHRATE_WINDOW_BLOCKS = 1008  # mempool's currentHashrate window (Core's default is 120)
# For the first 503 blocks of an epoch the projection reaches back to the block 503 below the tip
# (mempool's quarter-epoch window; see project_epoch).
QUARTER_EPOCH_BLOCKS = 503
# Cached getblockstats within this many blocks of the tip are fetched again (reorg safety).
REFETCH_DEPTH = 6
MAX_HEADER_LAG = 2  # blocks behind the best header still counted as in sync
# The largest answer is the getblockstats batch: at most 2016 results of ~150 bytes.
MAX_BYTES = 8 * 1024 * 1024


class BitcoindSourceConfig(BaseModel):
    """Where the node's RPC listens and how to authenticate: ``user``/``password``, or the
    ``.cookie`` file in the datadir (``__cookie__:<hex>``, rewritten on every node restart, so it
    is read on every poll)."""

    model_config = ConfigDict(extra="forbid")

    url: str = "http://127.0.0.1:8332/"
    user: str | None = None
    password: SecretStr | None = None
    cookie_file: Path | None = None
    timeout_s: float = Field(default=20.0, gt=0)
    # Average fees per block over this many recent blocks (Luxor: 144); cached, so only new blocks cost.
    fee_blocks: int = Field(default=144, ge=1, le=2016)
    # The node's ZMQ ``hashblock`` publisher (bitcoind -zmqpubhashblock=tcp://127.0.0.1:28332):
    # each new block triggers the network poll at once (watchers/bitcoind_zmq.py, needs pyzmq).
    zmq: str | None = Field(default=None, pattern=r"^(tcp|ipc)://\S+$")


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


class BitcoindRpc:
    """A small JSON-RPC 1.0 client over the shared aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, cfg: BitcoindSourceConfig) -> None:
        self.session = session
        self.cfg = cfg
        self._next_id = 0

    def _auth(self) -> dict[str, str]:
        """The Authorization header (built by hand: aiohttp 3.14 deprecates ``BasicAuth``)."""
        if self.cfg.cookie_file is not None:
            try:
                text = self.cfg.cookie_file.read_text().strip()
            except OSError as err:
                raise SourceError(
                    SOURCE, f"cannot read cookie file {self.cfg.cookie_file}: {err.strerror}"
                ) from err
            user, sep, password = text.partition(":")
            if not sep:
                raise SourceError(SOURCE, f"cookie file {self.cfg.cookie_file} does not hold user:password")
            return _basic(user, password)
        if self.cfg.user is not None:
            return _basic(self.cfg.user, self.cfg.password.get_secret_value() if self.cfg.password else "")
        return {}

    async def _post(self, body: Any) -> tuple[int, Any]:
        # JSON-RPC answers errors with HTTP 500 and a JSON body, so every status is read here.
        resp, raw = await request_bytes(
            self.session,
            "POST",
            self.cfg.url,
            source=SOURCE,
            data=json.dumps(body),
            headers={"Content-Type": "text/plain", **self._auth()},
            timeout_s=self.cfg.timeout_s,
            max_bytes=MAX_BYTES,
        )
        status = resp.status
        if status in (401, 403):
            raise SourceError(
                SOURCE, f"HTTP {status}: authentication failed (check user/password or cookie_file)"
            )
        try:
            return status, loads_json(raw, source=SOURCE)
        except SourceError as err:
            raise SourceError(SOURCE, f"HTTP {status}, answer is not JSON-RPC") from err

    def _request(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        self._next_id += 1
        return {"jsonrpc": "1.0", "id": f"mw{self._next_id}", "method": method, "params": list(params)}

    @staticmethod
    def _result(method: str, envelope: Any, status: int) -> Any:
        if not isinstance(envelope, Mapping) or "result" not in envelope:
            raise SourceError(SOURCE, f"{method}: HTTP {status}, not a JSON-RPC answer")
        error = envelope.get("error")
        if error:
            if isinstance(error, Mapping):
                raise SourceError(SOURCE, f"{method}: RPC error {error.get('code')}: {error.get('message')}")
            raise SourceError(SOURCE, f"{method}: RPC error {error}")
        if status != 200:
            raise SourceError(SOURCE, f"{method}: HTTP {status}")
        return envelope["result"]

    async def call(self, method: str, *params: Any) -> Any:
        status, envelope = await self._post(self._request(method, params))
        return self._result(method, envelope, status)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; results in the order of ``calls``."""
        if not calls:
            return []
        requests = [self._request(method, params) for method, params in calls]
        status, answers = await self._post(requests)
        if not isinstance(answers, list):
            # A batch refused as a whole comes back as one envelope.
            self._result(calls[0][0], answers, status)
            raise SourceError(SOURCE, f"batch answered with {type(answers).__name__}, not a list")
        by_id = {a.get("id"): a for a in answers if isinstance(a, Mapping)}
        results = []
        for (method, _), req in zip(calls, requests, strict=True):
            if req["id"] not in by_id:
                raise SourceError(SOURCE, f"{method}: no answer in the batch")
            results.append(self._result(method, by_id[req["id"]], 200))
        return results


@dataclass(frozen=True, slots=True)
class NodeInfo:
    height: int
    difficulty: float  # raw difficulty of the current epoch
    hashrate_hs: float  # getnetworkhashps over 1008 blocks, H/s
    chain: str


async def fetch_node_info(rpc: BitcoindRpc) -> NodeInfo:
    chain_info = await rpc.call("getblockchaininfo")
    if not isinstance(chain_info, Mapping):
        raise SourceError(SOURCE, "getblockchaininfo answered no object")
    if chain_info.get("initialblockdownload") is not False:
        raise SourceError(SOURCE, "node is in initial block download")
    blocks = int(require_number(chain_info, "blocks", source=SOURCE))
    headers = int(require_number(chain_info, "headers", source=SOURCE))
    if headers - blocks > MAX_HEADER_LAG:
        raise SourceError(SOURCE, f"node is {headers - blocks} blocks behind its best header")
    mining, hashps = await rpc.batch([("getmininginfo", []), ("getnetworkhashps", [HASHRATE_WINDOW_BLOCKS])])
    difficulty = require_number(mining, "difficulty", source=SOURCE)
    height = int(require_number(mining, "blocks", source=SOURCE))
    hashrate = require_number({"getnetworkhashps": hashps}, "getnetworkhashps", source=SOURCE)
    return NodeInfo(
        height=height, difficulty=difficulty, hashrate_hs=hashrate, chain=str(chain_info.get("chain"))
    )


def project_epoch(
    height: int,
    *,
    epoch_start_time: float,
    quarter_epoch_time: float,
    tip_time: float,
    now_s: int,
    last_change_pct: float,
) -> EpochInfo:
    """The epoch as mempool reports it, from the times of three blocks. Pure.

    A port of ``calcDifficultyAdjustment`` in mempool's backend/src/api/difficulty-adjustment.ts
    (the quarter-epoch version; its test vectors are in backend/src/__tests__/api/
    difficulty-adjustment.test.ts at mempool/mempool commit 14d8f67878e90ea6b8f473219b3d570217f4bfa2,
    and tests/test_network_bitcoind_projection.py checks a port against them), so that failing over
    between mempool and the node shows the same number:

    * the first 503 blocks of an epoch: the window runs from the block 503 below the tip to *now*;
      its part before the retarget was mined at the old difficulty, so it is scaled by the last
      change (``× (1 + last_change / 100)``) and the span is spread over 504 intervals;
    * afterwards: from the epoch's first block to now over ``mined + 1`` intervals, and at the last
      block of the epoch to the tip's time over 2016 (the protocol measures 2015 intervals against a
      2016-interval target);
    * the change is clamped like the protocol's retarget (-75 % … +300 %) and the epoch is kept;
    * ETA = now + blocks left × average interval (whole milliseconds, as mempool).

    ``epoch_start_time`` is the time of the epoch's first block (height % 2016 == 0),
    ``quarter_epoch_time`` the time of block ``height - 503``, ``now_s`` whole unix seconds."""
    mined = height % EPOCH_BLOCKS
    remaining = EPOCH_BLOCKS - mined
    since_start = max(0.0, now_s - epoch_start_time)
    if mined < QUARTER_EPOCH_BLOCKS:
        before_retarget = (epoch_start_time - quarter_epoch_time) * (1 + last_change_pct / 100)
        span = since_start + before_retarget
        avg = span / QUARTER_EPOCH_BLOCKS
        change = _change_pct(span, QUARTER_EPOCH_BLOCKS + 1)
    else:
        avg = since_start / mined
        end = tip_time if mined == EPOCH_BLOCKS - 1 else now_s
        change = _change_pct(end - epoch_start_time, mined + 1)
    change = min(max(change, RETARGET_MIN_PCT), RETARGET_MAX_PCT)
    avg_ms = math.floor(avg * 1000)
    return EpochInfo(
        progress_pct=mined / EPOCH_BLOCKS * 100,
        next_change_pct=change,
        blocks_left=remaining,
        retarget_eta_s=(remaining * avg_ms + now_s * 1000) / 1000,
        last_change_pct=last_change_pct,
        next_retarget_height=height + remaining,
    )


def _change_pct(span_s: float, intervals: int) -> float:
    """600 s over the average interval, minus one, in percent; an empty span is the +300 % cap
    (in mempool's JavaScript 600 / 0 is Infinity, clamped the same way)."""
    if span_s == 0:
        return RETARGET_MAX_PCT
    return (TARGET_BLOCK_S / (span_s / intervals) - 1) * 100


async def fetch_epoch(rpc: BitcoindRpc, height: int, *, now: datetime) -> EpochInfo:
    """The epoch from four block headers (one batch): the last block of the previous epoch and
    the first of this one (their difficulties give the last change), the block 503 below the tip
    and the tip. See :func:`project_epoch` for the arithmetic."""
    if height < EPOCH_BLOCKS:
        raise SourceError(SOURCE, f"height {height} is inside the first epoch")
    start = height - height % EPOCH_BLOCKS
    # The block 503 below the tip only matters in the first 503 blocks of an epoch.
    quarter = height - QUARTER_EPOCH_BLOCKS if height - start < QUARTER_EPOCH_BLOCKS else start
    heights = [start - 1, start, quarter, height]
    hashes = await rpc.batch([("getblockhash", [h]) for h in heights])
    headers = await rpc.batch([("getblockheader", [h]) for h in hashes])
    for h, header in zip(heights, headers, strict=True):
        if not isinstance(header, Mapping) or header.get("height") != h:
            raise SourceError(SOURCE, f"getblockheader for height {h} answered another block")
    prev_difficulty = require_number(headers[0], "difficulty", source=SOURCE)
    difficulty = require_number(headers[1], "difficulty", source=SOURCE)
    # Block times need not increase (the protocol only bounds them by the median of the last 11),
    # so their order is not checked; a time of 0 or less is garbage.
    start_time, quarter_time, tip_time = (require_number(hd, "time", source=SOURCE) for hd in headers[1:])
    if prev_difficulty <= 0 or difficulty <= 0 or min(start_time, quarter_time, tip_time) <= 0:
        raise SourceError(SOURCE, "block headers hold no usable difficulty or times")
    return project_epoch(
        height,
        epoch_start_time=start_time,
        quarter_epoch_time=quarter_time,
        tip_time=tip_time,
        now_s=math.floor(now.timestamp()),
        last_change_pct=(difficulty / prev_difficulty - 1) * 100,
    )


async def fetch_avg_fees(
    rpc: BitcoindRpc, height: int, block_count: int, cache: MutableMapping[str, Any]
) -> FeeStats:
    """Average ``totalfee`` (sat) per block over the ``block_count`` blocks ending at ``height``.

    ``cache`` maps str(height) -> [blockhash, totalfee] and lives in the watcher state, so a poll
    only asks ``getblockstats`` for new blocks and the last few (a shallow reorg replaces them)."""
    first = max(1, height - block_count + 1)
    wanted = range(first, height + 1)
    missing = [h for h in wanted if str(h) not in cache or h > height - REFETCH_DEPTH]
    stats = await rpc.batch([("getblockstats", [h, ["blockhash", "height", "totalfee"]]) for h in missing])
    for h, stat in zip(missing, stats, strict=True):
        if not isinstance(stat, Mapping) or stat.get("height") != h:
            raise SourceError(SOURCE, f"getblockstats for height {h} answered another block")
        fee = require_number(stat, "totalfee", source=SOURCE)
        if fee < 0:
            raise SourceError(SOURCE, f"getblockstats {h}: totalfee {fee:g} is negative")
        cache[str(h)] = [str(stat.get("blockhash", "")), int(fee)]
    for key in [k for k in cache if not first <= int(k) <= height]:
        del cache[key]
    total = sum(cache[str(h)][1] for h in wanted)
    return FeeStats(avg_fees_sat=total / len(wanted), blocks=len(wanted), end_height=height)
