"""Witnessing a day of 7,000 school chains: the national log against one log per school.

Run from the repository root (SQLite in a temporary folder, three `wallet-witness serve` processes on
127.0.0.1):

    .venv/bin/python -m tests.bench.bench_witness [--schools 7000] [--baseline-schools 700]

Day 1 and day 2 each append one checkpoint per school (7,000 leaves a day) to the national log, sign its
head and ask three witnesses over HTTP (day 2 carries a consistency proof from day 1's size). Figures: the
time to extend the national log and sign the head, the time to collect 3 cosignatures, and the bytes sent
and received. Baseline, in the same run against the same witnesses: one log per school, each school's own
checkpoint cosigned by each witness (the design not chosen), measured on `--baseline-schools` schools and
scaled to `--schools` per request (the per-request cost does not depend on the number of logs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from tests.witness_process import WitnessProcess
from tlog.checkpoint import Checkpoint as CheckpointText
from wallet import migrate
from wallet.db import make_engine, make_session_factory, transaction
from wallet.ledger.merkle import leaf_hash
from wallet.ledger.signing import SigningKey
from wallet.models import Checkpoint, Region, School
from wallet.witness_settings import WitnessPolicy, WitnessSpec
from wallet.witnessing.collect import collect, http_post, submission_body
from wallet.witnessing.national import extend_national_log, log_vkey, school_origin, sign_note

ORIGIN = "bench.example/ledger"
T0 = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


class Counting:
    def __init__(self) -> None:
        self.requests = self.sent = self.received = 0

    def post(self, url: str, body: bytes, timeout: float) -> tuple[int, str]:
        status, text = http_post(url, body, timeout)
        self.requests += 1
        self.sent += len(body)
        self.received += len(text.encode())
        return status, text


def _schools(factory, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        region = Region(code="BEN", name_kk="B", name_ru="B")
        session.add(region)
        session.flush()
        session.execute(insert(School), [{"bin": f"{i:012d}", "name_kk": "s", "name_ru": "s", "region_id": region.id}
                                         for i in range(1, n + 1)])
    with factory() as session:
        return [s.id for s in session.query(School).order_by(School.id)]


def _checkpoints(factory, school_ids: list[int], day: int, key: SigningKey) -> None:  # type: ignore[no-untyped-def]
    # Rows as make_checkpoint stores them; the national log reads only size and root, so the body is short.
    rows = [{"school_id": sid, "tree_size": 300 * day, "root_hash": leaf_hash(f"{sid}-{day}".encode()),
             "chain_hash": bytes(32), "issued_at": T0 + dt.timedelta(days=day), "key_id": key.key_id,
             "body": "{}", "signature": "-", "reason": "periodic"} for sid in school_ids]
    with transaction(factory) as session:
        session.execute(insert(Checkpoint), rows)


def national_day(factory, key, policy, counter) -> dict:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with transaction(factory) as session:
        head = extend_national_log(session, key, ORIGIN)
        size = head.tree_size
    extended = time.perf_counter()
    report = collect(factory, policy, post=counter.post)
    done = time.perf_counter()
    assert report.witnessed and report.cosigned == 3, report
    return {"size": size, "extend_s": extended - started, "collect_s": done - extended}


def per_school_baseline(witnesses, key, n: int) -> dict:  # type: ignore[no-untyped-def]
    """n schools, each its own log: one add-checkpoint per school per witness (first checkpoint: no proof,
    the smallest request there is, so the baseline is a lower bound)."""
    counter = Counting()
    started = time.perf_counter()
    for i in range(1, n + 1):
        origin = school_origin(ORIGIN, f"{i:012d}")
        text = CheckpointText(origin, 300, leaf_hash(f"b{i}".encode())).text()
        body = submission_body(0, [], sign_note(text, origin, key))
        for witness in witnesses:
            status, answer = counter.post(f"{witness.url}/add-checkpoint", body, 10)
            assert status == 200, answer
    return {"seconds": time.perf_counter() - started, "requests": counter.requests, "sent": counter.sent,
            "received": counter.received}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schools", type=int, default=7000)
    parser.add_argument("--baseline-schools", type=int, default=700)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-witness-"))
    engine = make_engine(f"sqlite:///{tmp / 'wallet.sqlite3'}")
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    key = SigningKey.generate()
    witnesses = [WitnessProcess(tmp / f"w{i}", f"witness.bench/w{i}") for i in range(3)]
    for witness in witnesses:
        witness.trust(ORIGIN, log_vkey(ORIGIN, key))
        data = json.loads((witness.directory / "witness.json").read_text())  # trust every school log at once
        data["logs"].update({school_origin(ORIGIN, f"{i:012d}"): [log_vkey(school_origin(ORIGIN, f"{i:012d}"), key)]
                             for i in range(1, args.baseline_schools + 1)})
        (witness.directory / "witness.json").write_text(json.dumps(data))
        witness.start()
    policy = WitnessPolicy(ORIGIN, tuple(WitnessSpec(w.url, w.cosigner.verifier) for w in witnesses), 2, 10)
    try:
        ids = _schools(factory, args.schools)
        print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        for day in (1, 2):
            _checkpoints(factory, ids, day, key)
            counter = Counting()
            figures = national_day(factory, key, policy, counter)
            print(f"national day {day}: head size {figures['size']}, extend+sign {figures['extend_s']:.2f} s, "
                  f"collect 3 cosignatures {figures['collect_s']:.3f} s, {counter.requests} requests, "
                  f"{counter.sent} bytes sent, {counter.received} received")
        base = per_school_baseline(witnesses, key, args.baseline_schools)
        scale = args.schools / args.baseline_schools
        print(f"per-school logs ({args.baseline_schools} schools measured): {base['seconds']:.2f} s, "
              f"{base['requests']} requests, {base['sent']} bytes sent, {base['received']} received; "
              f"scaled to {args.schools}: {base['seconds'] * scale:.1f} s, {int(base['requests'] * scale)} requests, "
              f"{int(base['sent'] * scale)} bytes sent")
    finally:
        for witness in witnesses:
            witness.kill9()


if __name__ == "__main__":
    main()
