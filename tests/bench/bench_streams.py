"""Open notification streams against the rest of the service: the rate of other endpoints with no stream open,
then with 1,000 streams held open by a client in another process, in the same run, on the same machine.

Run (from the repository root, PostgreSQL at 127.0.0.1:5432, user postgres, trust):

    .venv/bin/python -m tests.bench.bench_streams            # --help for the knobs

It makes the database `wallet_bench_streams` (dropped at the end unless --keep), loads a demo world with
`wallet demo-data`, adds parents until there is one per stream (each linked to a pupil: distinct parents, so
the per-parent cap is not what limits), registers one terminal per client process, and starts gunicorn as
production does (api/gunicorn_conf.py: gevent workers; 2 by default) with rate limits off (they are not what
is measured). Then, closed loop from several client processes, each kind for --duration seconds per phase
(in --slices turns, the kinds alternating, so a burst of other load on the shared machine falls on each):

  healthz   GET /healthz
  today     GET /api/v1/parent/children/{id}/meals/today  (a random parent and child, the parent's own token)
  upload    POST /api/v1/terminal/events, 10 meals per batch (each client its own terminal and token per batch)

in alternating phases: no stream open; --streams streams open (held by an asyncio process of raw sockets, each
stream's first line read before the phase starts, all still open after it); no stream open again; and so on
for --rounds stream phases. Each stream phase's baseline is the mean of the stream-free phases on either side
of it, so that a drift over the run (the uploads add the day's meals; the machine's other load comes and
goes) falls on both; the ratio is the rate with streams over that baseline (target >= 0.90).
It also meters the server's CPU per request (gunicorn's processes and their PostgreSQL backends, from /proc):
the shared machine's other load moves the rates far more than that.
By default the streams' parents have no child at the school the uploads are for (--streams-at
other-schools): what holding streams costs. With --streams-at any, meals uploaded during the streams phase
reach open streams, which then read their rows, check consent and write the access log: delivery is measured
too (at a rate no real day has: every pupil of the school gets several meals a minute).
Figures go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.bench.bench_parent_reads import cpu_seconds
from tests.bench.load_common import (
    Terminal,
    admin,
    iso_now,
    load_demo_world,
    machine,
    register_terminals,
    uuid7,
)
from tests.live_server import LiveServer

DATABASE = "wallet_bench_streams"
STREAM = "/api/v1/parent/notifications/stream"
KINDS = ("healthz", "today", "upload")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def stream_deliveries(database_url: str) -> int:
    """Children's access-log rows written by streams: one per child per read that delivered something."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM child_access_log WHERE action = 'notifications' "
                                         "AND detail = 'stream'")).scalar_one())
    finally:
        engine.dispose()


def make_world(database_url: str, instance: Path, students: int, parents: int,
               other_schools: bool) -> tuple[str, list[tuple[str, str]]]:
    """Demo data, then parents added until there are `parents`; returns the BIN of the school the terminals
    upload for and (parent IIN, child id) pairs, one per parent: with `other_schools`, parents none of whose
    children attend that school."""
    from tests.factories import an_iin

    load_demo_world(database_url, instance, students)
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            school = conn.execute(text("SELECT bin FROM schools ORDER BY bin LIMIT 1")).scalar_one()
            there = {str(r[0]) for r in conn.execute(text(
                "SELECT e.student_id FROM enrollments e JOIN schools s ON s.id = e.school_id WHERE s.bin = :b"),
                {"b": school})}
            links = [(p, str(s)) for p, s in conn.execute(text(
                "SELECT parent_iin, student_id FROM guardian_links ORDER BY parent_iin, student_id"))]
            excluded = {p for p, s in links if s in there} if other_schools else set()
            pairs = list({p: (p, s) for p, s in reversed(links) if p not in excluded}.values())
            pupils = [str(r[0]) for r in conn.execute(text("SELECT id FROM students ORDER BY id"))
                      if not (other_schools and str(r[0]) in there)]
            known = {p for p, _ in pairs}
            n = 0
            while len(pairs) < parents:
                iin = an_iin(dt.date(1970, 1, 1) + dt.timedelta(days=n), female=n % 2 == 0)
                n += 1
                if iin in known:
                    continue
                child = pupils[len(pairs) % len(pupils)]
                conn.execute(text("INSERT INTO guardian_links (parent_iin, student_id, relation) "
                                  "VALUES (:p, :s, 'mother')"), {"p": iin, "s": uuid.UUID(child)})
                pairs.append((iin, child))
                known.add(iin)
    finally:
        engine.dispose()
    return school, pairs[:parents]


# --- the stream holder (its own process) ------------------------------------------------------------------------


async def _hold(port: int, tokens: list[str], opened: Any, stop: Any, result: Any) -> None:
    statuses: list[int] = []
    readers: list[asyncio.StreamReader] = []
    writers: list[asyncio.StreamWriter] = []
    gate = asyncio.Semaphore(50)  # at most this many being opened at once

    async def open_one(token: str) -> None:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write((f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                          "Accept: text/event-stream\r\n\r\n").encode())
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            status = int(head.split(b" ", 2)[1])
            if status == 200:
                await asyncio.wait_for(reader.readuntil(b"retry:"), 60)  # the body has started
            statuses.append(status)
            readers.append(reader)
            writers.append(writer)

    await asyncio.gather(*(open_one(t) for t in tokens))
    opened.set()

    async def drain(reader: asyncio.StreamReader) -> None:
        while await reader.read(65536):  # keep-alives (and meals); b"" when the server ended the stream
            pass

    # No timers on this side while the streams are held: the holder costs the machine as little as it can.
    drains = [asyncio.ensure_future(drain(r)) for r in readers]
    await asyncio.get_running_loop().run_in_executor(None, stop.wait)
    still_open = sum(not d.done() for d in drains)
    for d in drains:
        d.cancel()
    for writer in writers:
        writer.close()
    result.put({"opened": statuses.count(200), "refused": len(statuses) - statuses.count(200),
                "still_open_at_end": still_open})


def hold_streams(port: int, tokens: list[str], opened: Any, stop: Any, result: Any) -> None:
    asyncio.run(_hold(port, tokens, opened, stop, result))


# --- the load clients ---------------------------------------------------------------------------------------------


def client(port: int, kind: str, duration: float, seed: int, terminal: dict[str, Any] | None,
           children: list[tuple[str, str]], barrier: Any, results: Any) -> None:
    """Requests of one kind back to back on one keep-alive connection for `duration` seconds."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    key = None
    if terminal is not None:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = Terminal(terminal["id"], terminal["students"])
        key.key = load_pem_private_key(terminal["pem"].encode(), None)  # type: ignore[assignment]
        key.seq = terminal["seq"]
    ok = failed = 0
    statuses: dict[int, int] = {}
    barrier.wait(timeout=300)
    started = time.monotonic()
    while time.monotonic() - started < duration:
        if kind == "healthz":
            method, path, body, headers = "GET", "/healthz", None, {}
        elif kind == "today":
            token, child = children[rng.randrange(len(children))]
            method, path, body = "GET", f"/api/v1/parent/children/{child}/meals/today", None
            headers = {"Authorization": f"Bearer {token}"}
        else:
            assert key is not None
            events = []
            for _ in range(10):
                key.seq += 1
                events.append({"eventId": uuid7(), "deviceSeq": key.seq, "studentId": rng.choice(key.students),
                               "mealType": rng.choice(["breakfast", "lunch", "snack"]), "servedAt": iso_now(),
                               "method": "qr"})
            method, path = "POST", "/api/v1/terminal/events"
            body = json.dumps({"sentAt": iso_now(), "events": events})
            headers = {"Authorization": f"Bearer {key.token()}", "Content-Type": "application/json"}
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                ok += 1
            else:
                failed += 1
                statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
            failed += 1
    results.put((ok, failed, time.monotonic() - started, key.seq if key else 0, statuses))


def run_kind(port: int, kind: str, clients: int, duration: float, terminals: list[dict[str, Any]],
             children: list[tuple[str, str]]) -> dict[str, Any]:
    app0, db0 = cpu_seconds(f"127.0.0.1:{port}"), cpu_seconds(f"{DATABASE} 127.0.0.1")
    ctx = mp.get_context("fork")
    queue, barrier = ctx.Queue(), ctx.Barrier(clients)
    procs = [ctx.Process(target=client, daemon=True,
                         args=(port, kind, duration, 7919 * i + len(kind), terminals[i] if kind == "upload" else None,
                               children, barrier, queue)) for i in range(clients)]
    for p in procs:
        p.start()
    parts = [queue.get(timeout=duration + 300) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    cpu = cpu_seconds(f"127.0.0.1:{port}") - app0 + cpu_seconds(f"{DATABASE} 127.0.0.1") - db0
    if kind == "upload":  # each terminal's next run starts above whatever deviceSeq it reached
        reached = max(p[3] for p in parts)
        for terminal in terminals:
            terminal["seq"] = reached + 1
    ok, failed = sum(p[0] for p in parts), sum(p[1] for p in parts)
    seconds = max(p[2] for p in parts)
    statuses: dict[int, int] = {}
    for part in parts:
        for status, n in part[4].items():
            statuses[status] = statuses.get(status, 0) + n
    return {"ok": ok, "failed": failed, "rate": ok / seconds, "statuses": statuses, "cpu_s": cpu}


def phase(label: str, port: int, clients: int, duration: float, slices: int, terminals: list[dict[str, Any]],
          children: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Each kind for `duration` seconds in all, in `slices` turns (kinds take turns, so that a burst of other
    load on the machine falls on all of them rather than on one)."""
    parts: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for _ in range(slices):
        for kind in KINDS:
            parts[kind].append(run_kind(port, kind, clients, duration / slices, terminals, children))
    rates = {}
    for kind in KINDS:
        statuses: dict[int, int] = {}
        for part in parts[kind]:
            for status, n in part["statuses"].items():
                statuses[status] = statuses.get(status, 0) + n
        ok = sum(p["ok"] for p in parts[kind])
        cpu_ms = sum(p["cpu_s"] for p in parts[kind]) / max(1, ok) * 1000
        rates[kind] = {"ok": ok, "failed": sum(p["failed"] for p in parts[kind]),
                       "rate": sum(p["rate"] for p in parts[kind]) / slices, "statuses": statuses, "cpu_ms": cpu_ms}
        log(f"  {label}: {kind} {rates[kind]['rate']:.1f}/s, {cpu_ms:.2f} ms server CPU each "
            f"(not 200: {statuses or 'none'})")
    return rates


def streams_phase(label: str, database_url: str, tokens: list[str], run: tuple[Any, ...]
                  ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """One phase with `tokens`' streams held open by a process of their own: the rates, and what the holder saw."""
    port = run[0]
    ctx = mp.get_context("spawn")
    opened, stop, result = ctx.Event(), ctx.Event(), ctx.Queue()
    holder = ctx.Process(target=hold_streams, args=(port, tokens, opened, stop, result), daemon=True)
    started = time.monotonic()
    holder.start()
    try:
        if not opened.wait(timeout=600):
            raise RuntimeError("the streams were not all open in 600 s")
        log(f"{len(tokens)} streams requested, open in {time.monotonic() - started:.1f} s")
        delivered = stream_deliveries(database_url)
        rates = phase(label, *run)
        log(f"streams delivered meals to {stream_deliveries(database_url) - delivered} children (access-log rows) "
            "during the phase")
        stop.set()
        held = result.get(timeout=120)
        holder.join(timeout=30)
    finally:
        if holder.is_alive():
            holder.kill()
    log(f"streams: {held}")
    return rates, held


def report(streams: int, free: list[dict[str, dict[str, Any]]], during: list[dict[str, dict[str, Any]]],
           held: list[dict[str, Any]]) -> None:
    """The tables for docs/benchmarks.md: each stream phase against the mean of the free phases around it."""
    for figure, unit, what in (("rate", "/s", "Rates"), ("cpu_ms", "ms", "Server CPU (gunicorn workers and their "
                               "PostgreSQL backends) per request, which the other load on the machine moves much "
                               "less than the rates")):
        print(f"\n{what}:\n")
        columns = [f"0 streams ({n // 2}) {unit}" if n % 2 == 0 else f"{streams} streams ({n // 2 + 1}) {unit}"
                   for n in range(len(free) + len(during))]
        print("| endpoint | " + " | ".join(columns) + " | ratio |")
        print("|---|" + "---:|" * (len(columns) + 1))
        for kind in KINDS:
            cells, ratios = [], []
            for n, free_phase in enumerate(free):
                cells.append(f"{free_phase[kind][figure]:.2f}")
                if n < len(during):
                    with_ = during[n][kind][figure]
                    base = (free_phase[kind][figure] + free[n + 1][kind][figure]) / 2
                    ratios.append(with_ / base if figure == "rate" else base / with_)
                    cells.append(f"{with_:.2f}")
            ratio = sum(ratios) / len(ratios) if ratios else float("nan")
            print(f"| {kind} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    failed = sum(p[k]["failed"] for p in free + during for k in KINDS)
    print(f"\nratio: with streams over the mean of the stream-free phases on either side (CPU: the inverse), "
          f"averaged over the stream phases; streams opened {[h['opened'] for h in held]}, refused "
          f"{[h['refused'] for h in held]}, still open when the phase ended {[h['still_open_at_end'] for h in held]}; "
          f"requests not answered 200: {failed}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000, help="streams held open in the middle phase (0: a "
                        "control run, the same three phases with nothing held open)")
    parser.add_argument("--parents", type=int, default=1000,
                        help="parents in the world (the today readers; the first --streams of them hold streams)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--students", type=int, default=2000, help="demo pupils")
    parser.add_argument("--clients", type=int, default=4, help="load client processes")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per kind and phase")
    parser.add_argument("--slices", type=int, default=5, help="turns the kinds take within a phase")
    parser.add_argument("--streams-at", choices=["other-schools", "any"], default="other-schools",
                        help="whose parents hold the streams: pupils of other schools than the one the uploads "
                             "are for (the cost of holding streams), or of any school (meals uploaded reach "
                             "open streams, which then read and log them)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="stream phases, each between two stream-free ones (2: none, streams, none, streams, "
                             "none)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not 0 <= args.streams <= args.parents:
        parser.error("--streams must be between 0 and --parents")

    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from api.auth import dev_idp
    from wallet.config import settings_from_env

    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
    work = Path(tempfile.mkdtemp(prefix="wallet-streams-"))
    instance = work / "instance"
    admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DATABASE}"')
    log(f"machine: {machine()}; uptime: {os.popen('uptime').read().strip()}")
    server = None
    try:
        log(f"world: demo data with {args.students} pupils, {args.parents} parents ...")
        school, pairs = make_world(database_url, instance, args.students, args.parents,
                                   args.streams_at == "other-schools")
        settings = settings_from_env({"WALLET_ENV": "test", "WALLET_DATABASE_URL": database_url,
                                      "WALLET_INSTANCE_PATH": str(instance)})
        tokens = [dev_idp.issue_token(settings, iin, {"role": "parent"}, dt.timedelta(hours=3)) for iin, _ in pairs]
        children = [(t, child) for t, (_, child) in zip(tokens, pairs, strict=True)]
        agents = [Terminal(f"T-bench-{n}", []) for n in range(args.clients)]
        register_terminals(database_url, agents, [school] * len(agents))
        server = LiveServer(database_url, instance, work / "gunicorn.log", workers=args.workers,
                            env={"WALLET_RATE_LIMITS": "off"}).start()
        import requests

        roster = requests.get(f"{server.url}/api/v1/terminal/roster",
                              headers={"Authorization": f"Bearer {agents[0].token()}"}, timeout=30).json()
        students = [s["studentId"] for s in roster["students"]]
        terminals = [{"id": a.id, "students": students, "seq": 0,
                      "pem": a.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()}
                     for a in agents]
        children = [(t, c) for t, c in children  # pupils whose meals the parent may see (consent given)
                    if requests.get(f"{server.url}/api/v1/parent/children/{c}/meals/today",
                                    headers={"Authorization": f"Bearer {t}"}, timeout=30).status_code == 200]
        log(f"{len(children)} of the parents' children answer meals/today with 200 (the others lack consent)")
        log(f"gunicorn at {server.url}, {args.workers} workers (api/gunicorn_conf.py); {len(students)} pupils "
            f"on the terminals' roster")

        run = (server.port, args.clients, args.duration, args.slices, terminals, children)
        free = [phase("0 streams", *run)]
        held: list[dict[str, Any]] = []
        during: list[dict[str, dict[str, Any]]] = []
        for n in range(1, args.rounds + 1):
            rates, holding = streams_phase(f"{args.streams} streams ({n})", database_url, tokens[:args.streams],
                                           run)
            during.append(rates)
            held.append(holding)
            free.append(phase(f"0 streams ({n})", *run))
        report(args.streams, free, during, held)
        log(f"uptime at the end: {os.popen('uptime').read().strip()}")
        return 0
    finally:
        if server is not None:
            server.kill()
        if not args.keep:
            admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
