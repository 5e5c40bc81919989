"""The README's command examples work as written on the demo data: every `wallet` line of its shell blocks
that can run without a server is run (placeholders such as BIN, M, FILE filled in from the demo world,
each `a|b|c` alternative in turn, optional `[...]` parts included) and must exit 0. Lines that need
something else (a server, a file of the reader's own) are listed below with the reason, and a README line
that is neither run nor listed fails the test, so a new example is never left untried."""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# First words of README lines not run here, and why.
NOT_RUN = {
    "wallet import ": "imports the reader's own CSV file",
    "wallet import-claim ": "needs a supplier's claim file",
    "wallet vouchers ": "names a fixed school year (2026-2027) that ages",
    "wallet demo-data": "the fixture runs it",
    "wallet serve": "a server: tests/e2e",
    "wallet run-demo": "a server: tests/e2e/test_run_demo.py",
    "wallet verify-proof ": "needs a proof file from the API",
    "wallet notify-worker [--drain]": "pushes to a gateway: tests/integration/test_notify_worker_cli.py",
    "wallet-terminal ": "the terminals' agent: needs a server (tests/devices)",
    "wallet-witness ": "an independent witness on its own machine: tests/e2e/test_witnesses.py",
    "wallet witness collect": "asks witnesses over HTTP: tests/e2e/test_witnesses.py",
    "wallet findings rule ": "needs an auditor's file of rulings (tests/integration/test_findings_cli.py)",
    "curl ": "needs the running server",
}
# `add|revoke|gaps` need a terminal id; `list` is run.
SKIPPED_ALTERNATIVES = {"add", "revoke", "gaps"}


def _shell_lines() -> list[str]:
    """`wallet`, `wallet-terminal` and `curl` command lines of the README's sh blocks, comments removed (not
    those that begin by setting WALLET_... variables: they need settings of the reader's own)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for raw in block.splitlines():
            line = re.sub(r"\s+#.*$", "", raw).strip()
            line = re.sub(r"^\w+=\$\((.*)\)$", r"\1", line)  # TOKEN=$(... dev-token ...)
            if re.match(r"WALLET_\w+=", line):
                continue  # run with settings of the reader's own (the push gateway's URL and secret)
            line = line.removeprefix(".venv/bin/")
            if re.match(r"(wallet|wallet-terminal|curl)\b", line):  # wallet-witness too
                lines.append(line)
    return lines


def _variants(line: str, values: dict[str, str]) -> list[list[str]]:
    """The argument lists a README line stands for."""
    line = re.sub(r"\[--scope \.\.\.\]", "", line)
    line = re.sub(r"\[([^\]]+)\]", r"\1", line)  # optional parts, included
    alternatives = [part.strip() for part in line.split(" | ")] if " | " in line else [line]
    if len(alternatives) > 1:  # `wallet x --a | --b`: the second names only its own options
        head = alternatives[0].split()[:2]
        alternatives = [alternatives[0], *(" ".join(head) + " " + a for a in alternatives[1:])]
    found: list[list[str]] = []
    for alternative in alternatives:
        words = shlex.split(alternative)[1:]
        expanded: list[list[str]] = [[]]
        for word in words:
            choices = [c for c in word.split("|") if c not in SKIPPED_ALTERNATIVES] if "|" in word else [word]
            expanded = [[*done, choice] for done in expanded for choice in choices]
        for args in expanded:
            found.append(_filled(args, values))
    return found


def _filled(args: list[str], values: dict[str, str]) -> list[str]:
    filled, fmt = [], next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--format"), "csv")
    for n, word in enumerate(args):
        if word == "FILE":
            word = str(Path(values["dir"]) / f"{args[0]}-{n}.{fmt}")
        if word not in values:  # a placeholder inside a word: region:CODE, school:BIN
            word = re.sub(r"\b(BIN|CODE)\b", lambda m: values[m.group(1)], word)
        filled.append(values.get(word, word))
    return filled


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo world `make run` loads, and the values that fill the README's placeholders."""
    folder = tmp_path_factory.mktemp("readme")
    base = {k: v for k, v in os.environ.items() if not k.startswith("WALLET_")}
    env = {**base, "WALLET_ENV": "development", "WALLET_INSTANCE_PATH": str(folder / "instance"),
           "WALLET_DATABASE_URL": f"sqlite:///{folder / 'wallet.sqlite3'}"}
    made = subprocess.run([str(BIN / "wallet"), "demo-data"], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert made.returncode == 0, made.stderr
    iin = re.search(r"to sign in as: IIN (\d{12})", made.stdout).group(1)
    school = re.search(r"school (\d{12}) \(", made.stdout).group(1)
    today = dt.date.today()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    region = subprocess.run([str(BIN / "python"), "-c", (
        "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select r.code from schools s "
        "join regions r on r.id=s.region_id where s.bin=?', (sys.argv[2],)).fetchone()[0])"),
        str(folder / "wallet.sqlite3"), school], capture_output=True, text=True, check=True).stdout.strip()
    return {"env": env, "dir": str(folder), "BIN": school, "M": last_month, "CODE": region, "N": "5",
            "R": "absent_but_billed",
            "IIN": iin, "IIN_PRINTED_BY_DEMO_DATA": iin}


def test_every_readme_command_runs_on_the_demo_data_or_says_why_not(demo):
    env = demo.pop("env")
    ran, failures = [], []
    for line in _shell_lines():
        reason = next((why for start, why in NOT_RUN.items() if line.startswith(start)), None)
        if reason is not None:
            continue
        assert line.startswith("wallet "), f"README line neither run nor listed in NOT_RUN: {line}"
        for args in _variants(line, demo):
            run = subprocess.run([str(BIN / "wallet"), *args], env=env, capture_output=True, text=True,
                                 timeout=300, check=False, stdin=subprocess.DEVNULL)
            ran.append(" ".join(args))
            if run.returncode != 0:
                failures.append(f"wallet {' '.join(args)}  (from: {line})\n  exit {run.returncode}: "
                                f"{(run.stderr or run.stdout).strip()[-400:]}")
    assert not failures, "\n".join(failures)
    assert len(ran) > 25, ran
    assert any(r.startswith("payment-registry") for r in ran) and any(r.startswith("meal-sheet") for r in ran)
