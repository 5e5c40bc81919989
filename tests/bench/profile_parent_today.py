"""In-process profile of parents' `GET meals/today` against `/healthz` of the same app (app.test_client()),
on a database kept by bench_parent_reads (`--keep`): CPU per request of each, then cProfile's top functions of
the today reads.

    .venv/bin/python -m tests.bench.profile_parent_today --database wallet_bench_parents [--requests 1000]

The figures are the process's own CPU (time.process_time), so the database's share is not in them; the
closed-loop benchmark under gunicorn (bench_parent_reads) is the one that decides.

`--gunicorn ROUNDS`: instead, one sync gunicorn worker (api.wsgi:build(), the benchmark's settings) serves
hello and today reads one after another from one keep-alive client, alternating, ROUNDS rounds of
`--requests` each; the worker's and the database backends' CPU per request from /proc.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import tempfile
import time
from pathlib import Path

from tests.bench import bench_parent_reads as bench
from tests.bench.bench_parent_reads import DEFAULT_ADMIN_URL, issue_tokens


def under_gunicorn(db_url: str, database: str, children: list[tuple[str, str]], count: int, rounds: int,
                   instance: Path) -> None:
    import http.client

    rng = random.Random(11)
    with bench.gunicorn(db_url, bench.ServerConfig("sync", 1), instance) as (host, port):
        conn = http.client.HTTPConnection(host, port, timeout=30)

        def send(path: str, token: str | None) -> None:
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
            answer = conn.getresponse()
            answer.read()
            assert answer.status == 200, answer.status

        def today() -> None:
            token, child = children[rng.randrange(len(children))]
            send(f"/api/v1/parent/children/{child}/meals/today", token)

        for token, child in children:  # warm: every token verified, statements prepared
            send(f"/api/v1/parent/children/{child}/meals/today", token)
        app, db = f"127.0.0.1:{port}", f"{database} 127.0.0.1"
        for round_ in range(rounds):
            figures = []
            for label, one in (("hello", lambda: send("/healthz", None)), ("today", today)):
                app0, db0, wall0 = bench.cpu_seconds(app), bench.cpu_seconds(db), time.perf_counter()
                for _ in range(count):
                    one()
                wall = time.perf_counter() - wall0
                spent = ((bench.cpu_seconds(app) - app0) / count * 1000, (bench.cpu_seconds(db) - db0) / count * 1000)
                figures.append((label, spent, count / wall))
            (_, hello, hello_rate), (_, today_cpu, today_rate) = figures
            print(f"round {round_ + 1}: hello {hello[0]:.3f} ms worker CPU ({hello_rate:,.0f}/s sequential); today "
                  f"{today_cpu[0]:.3f} ms worker + {today_cpu[1]:.3f} ms database ({today_rate:,.0f}/s); "
                  f"worker CPU hello/today {hello[0] / today_cpu[0]:.2f}, "
                  f"hello/(today worker + database) {hello[0] / (today_cpu[0] + today_cpu[1]):.2f}", flush=True)
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--database", default="wallet_bench_parents")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--parents", type=int, default=500)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--dump", help="also write the raw profile here (pstats)")
    parser.add_argument("--gunicorn", type=int, default=0, metavar="ROUNDS",
                        help="measure under one sync gunicorn worker instead (see the module's notes)")
    args = parser.parse_args(argv)

    from api import create_app
    from wallet.config import Settings

    db_url = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
    settings = Settings(environment="test", database_url=db_url, instance_path=Path(tempfile.mkdtemp()))
    if args.gunicorn:
        under_gunicorn(db_url, args.database, issue_tokens(settings, db_url, args.parents), args.requests,
                       args.gunicorn, settings.instance_path)
        return 0
    app = create_app(settings)
    client = app.test_client()
    children = issue_tokens(settings, db_url, args.parents)
    rng = random.Random(7)
    work = [children[rng.randrange(len(children))] for _ in range(args.requests)]

    def today(pairs: list[tuple[str, str]]) -> None:
        for token, child in pairs:
            answer = client.get(f"/api/v1/parent/children/{child}/meals/today",
                                headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.get_data(as_text=True)

    def hello(count: int) -> None:
        for _ in range(count):
            assert client.get("/healthz").status_code == 200

    today(children)  # warm: compiled statements, every parent's verified token (kept 60 s), the pool
    hello(500)
    # A run takes well under the 60 s a verified token is kept, so today's figure is of cached tokens, as in
    # a 10 s line of bench_parent_reads after its warm-up.
    for label, run in (("hello", lambda: hello(args.requests)), ("today", lambda: today(work))):
        started = time.process_time()
        run()
        spent = time.process_time() - started
        print(f"{label}: {spent / args.requests * 1000:.3f} ms CPU a request ({args.requests} requests)")
    profiler = cProfile.Profile(time.process_time)  # CPU, not the waits for the database
    profiler.enable()
    today(work)
    profiler.disable()
    if args.dump:
        profiler.dump_stats(args.dump)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
