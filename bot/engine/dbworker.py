"""All database access from async code goes through one thread (datasette's single write
thread): sqlite-utils is synchronous, and one thread means writes never interleave."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlite_utils import Database

T = TypeVar("T")


class DbWorker:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minerwatch-db")

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(db, *args, **kwargs)`` on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, self.db, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.db.close()
