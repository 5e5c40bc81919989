"""In-process profile of parents' `GET meals/today` against `/healthz` of the same app (app.test_client()),
on a database kept by bench_parent_reads (`--keep`): CPU per request of each, then cProfile's top functions of
the today reads.

    .venv/bin/python -m tests.bench.profile_parent_today --database wallet_bench_parents [--requests 1000]

The figures are the process's own CPU (time.process_time), so the database's share is not in them; the
closed-loop benchmark under gunicorn (bench_parent_reads) is the one that decides.
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

from tests.bench.bench_parent_reads import DEFAULT_ADMIN_URL, issue_tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--database", default="wallet_bench_parents")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--parents", type=int, default=500)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--dump", help="also write the raw profile here (pstats)")
    args = parser.parse_args(argv)

    from api import create_app
    from wallet.config import Settings

    db_url = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
    settings = Settings(environment="test", database_url=db_url, instance_path=Path(tempfile.mkdtemp()))
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
