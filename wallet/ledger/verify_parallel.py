"""`wallet verify --jobs N`: schools verified in N worker processes at once (PostgreSQL).

Each school is still verified alone, in a snapshot of its own, by `verify_chain`; the workers only share
the list of schools. Reports come back in the order asked for (BIN order), as one process gives them. The
workers are started fresh (spawn), each with an engine of its own: nothing of the parent's connections
crosses a fork.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["verify_in_processes"]

# What each worker process holds: its session factory, the public keys and the function that verifies one
# school (wallet.ledger.verify.verify_school, handed over by reference, so this module imports nothing above it).
_worker: dict[str, Any] = {}
VerifySchool = Callable[[sessionmaker[Session], int, Mapping[str, bytes]], Any]


def verify_in_processes(
    engine: Engine, public_keys: Mapping[str, bytes], school_ids: Sequence[int], jobs: int, verify: VerifySchool,
) -> Iterator[Any]:
    """`verify(session_factory, school_id, public_keys)` of each school in `jobs` processes, in the order of
    `school_ids`."""
    url = engine.url.render_as_string(hide_password=False)
    context = mp.get_context("spawn")
    with context.Pool(min(jobs, len(school_ids)), initializer=_start,
                      initargs=(url, dict(public_keys), verify)) as pool:
        yield from pool.imap(_verify_one, school_ids, chunksize=1)


def _start(url: str, public_keys: dict[str, bytes], verify: VerifySchool) -> None:
    from wallet.db import make_engine, make_session_factory

    _worker.update(factory=make_session_factory(make_engine(url)), keys=public_keys, verify=verify)


def _verify_one(school_id: int) -> Any:
    return _worker["verify"](_worker["factory"], school_id, _worker["keys"])
