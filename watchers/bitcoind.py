"""Bitcoin Core JSON-RPC: the self-hosted alternative to mempool for chain data.

See ``/work/shared/reference/data-sources.md`` §2.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

SOURCE = "bitcoind"


class BitcoindSourceConfig(BaseModel):
    """Where the node's RPC listens and how to authenticate: ``user``/``password`` (rpcauth) or
    the ``.cookie`` file in the datadir, which holds ``__cookie__:<hex>`` and changes on restart."""

    model_config = ConfigDict(extra="forbid")

    url: str = "http://127.0.0.1:8332/"
    user: str | None = None
    password: SecretStr | None = None
    cookie_file: Path | None = None
    timeout_s: float = 20.0
    fee_blocks: int = 144  # average fees per block over this many recent blocks
