"""`wallet verify --jobs N`: schools verified in N worker processes at once (PostgreSQL).

Each school is still verified alone, in a snapshot of its own, by `verify_chain`; the workers only share
the list of schools. Reports come back in the order asked for (BIN order), as one process gives them. The
workers are started fresh (spawn), each with an engine of its own: nothing of the parent's connections
crosses a fork.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator, Mapping, Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["verify_in_processes"]

_factory: sessionmaker[Session] | None = None
_keys: Mapping[str, bytes] = {}


def verify_in_processes(
    engine: Engine, public_keys: Mapping[str, bytes], school_ids: Sequence[int], jobs: int
) -> Iterator[object]:
    """The ChainReport of each school, verified by `jobs` processes, in the order of `school_ids`."""
    url = engine.url.render_as_string(hide_password=False)
    context = mp.get_context("spawn")
    with context.Pool(min(jobs, len(school_ids)), initializer=_start, initargs=(url, dict(public_keys))) as pool:
        yield from pool.imap(_verify_one, school_ids, chunksize=1)


def _start(url: str, public_keys: dict[str, bytes]) -> None:
    global _factory, _keys
    from wallet.db import make_engine, make_session_factory

    _factory, _keys = make_session_factory(make_engine(url)), public_keys


def _verify_one(school_id: int) -> object:
    from wallet.ledger.verify import begin_snapshot, verify_chain

    assert _factory is not None
    with _factory() as session:
        begin_snapshot(session)
        try:
            return verify_chain(session, school_id, _keys)
        finally:
            session.rollback()
