"""Golden transcripts of the `wallet` command line: every help text, and what the commands print on demo data.

The golden files under tests/golden/ were written from the command line as it was before it moved into its
own package; the tests compare the current one with them, so a change of wording, option, output or exit
status shows up as a diff. After a deliberate change, rewrite them with
`.venv/bin/python -m tests.cli_golden` (both files; the outputs on a temporary SQLite database) and review
the diff.
"""

from __future__ import annotations

import logging
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import click
from click.testing import CliRunner

GOLDEN = Path(__file__).parent / "golden"
HELP_FILE = GOLDEN / "cli_help.txt"
OUTPUTS_FILE = GOLDEN / "cli_outputs.txt"
# As in a terminal of 80 columns or wider: click wraps help at 78 there (CliRunner alone would force 80).
COLUMNS = "200"
WIDTH = 78
DEMO = ["demo-data", "--seed", "2026", "--students", "120", "--today", "2026-11-20"]


def root_command() -> click.Group:
    """The `wallet` group with every subcommand, as the console script builds it."""
    from cli.main import cli

    return cli


def command_paths(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            assert sub is not None
            yield from command_paths(sub, (*path, name))


def help_transcript() -> str:
    root = root_command()
    runner = CliRunner()
    parts = []
    for path in command_paths(root):
        result = runner.invoke(root, [*path, "--help"], prog_name="wallet", env={"COLUMNS": COLUMNS},
                               terminal_width=WIDTH, catch_exceptions=False)
        parts.append(f"=== wallet {' '.join((*path, '--help'))}  [exit {result.exit_code}]\n{result.output}")
    return "\n".join(parts)


# What differs from run to run and machine to machine: the temporary directory, clock readings, hashes over
# entries that carry their arrival time, random signing keys and one-time codes, durations, file sizes,
# the newest migration.
_VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)"), "<TIME>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<HASH>"),
    (re.compile(r"\b[0-9a-f]{16}\b"), "<KEY-ID>"),
    (re.compile(r"\(\d+\.\ds\)"), "(<SECONDS>)"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, \d+\.\d s"), "<TIME>, <SECONDS>"),
    (re.compile(r" \(v[^)]+\)$", re.MULTILINE), " (v<VERSION>)"),
    (re.compile(r"\(\d+ bytes\)"), "(<SIZE>)"),
    (re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\b"), "<CODE>"),
    (re.compile(r"MCowBQYDK2VwAyEA[A-Za-z0-9+/=]{44}"), "<PUBLIC-KEY>"),
    (re.compile(r"valid until \d{4}-\d\d-\d\d \d\d:\d\d UTC"), "valid until <TIME>"),
    (re.compile(r"(sqlite|postgresql\+psycopg):///?\S+"), "<DATABASE>"),
    # The newest migration's number changes with every migration added.
    (re.compile(r"database at migration \w+"), "database at migration <REVISION>"),
]


def normalise(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp), "<TMP>")
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _commands(files: Path) -> list[list[str]]:
    """Read-only commands, their error paths, and a few writes whose output does not depend on the clock."""
    school, supplier, month = "080440000008", "140740000002", "2026-11"
    claim = files / "claim.csv"
    claim.write_text(f"school_bin,day,meal_type,meals,amount_tiyn\n{school},2026-10-05,lunch,10,80000\n")
    bad_claim = files / "bad-claim.csv"
    bad_claim.write_text(f"school_bin,day,meal_type,meals,amount_tiyn\n{school},2026-10-05,lunchx,10,80000\n")
    return [
        [],
        ["nosuch"],
        ["migrate"],
        ["check-config"],
        ["terminals", "list"],
        ["terminals", "list", "--school", school],
        ["terminals", "gaps", f"T-demo-qr-{school}"],
        ["terminals", "gaps", "nosuch"],
        ["terminals", "revoke", "nosuch"],
        ["terminals", "add", "--school", "000000000000", "--public-key", "AAAA"],
        ["terminals", "enrollment-code", "--school", "000000000000"],
        ["terminals", "enrollment-code", "--school", school],
        ["verify", "--school", "123"],
        ["verify", "--school", "000000000000"],
        ["verify", "--history"],
        ["verify", "--history", "--limit", "2000"],
        ["verify"],
        ["verify", "--school", school],
        ["verify", "--history", "--limit", "2"],
        ["checkpoint", "--school", "123"],
        ["checkpoint", "--reason", ""],
        ["checkpoint", "--school", "000000000000"],
        ["totals", "check"],
        ["totals", "check", "--school", "000000000000"],
        ["totals", "check", "--month", "2026-13"],
        ["totals", "check", "--month", month],
        ["totals", "rebuild", "--school", school],
        ["reconcile", "--month", "2026-13"],
        ["reconcile", "--month", month, "--format", "xlsx"],
        ["reconcile", "--month", month, "--scope", "bogus"],
        ["reconcile", "--month", month, "--scope", "school:000000000000"],
        ["reconcile", "--month", month, "--scope", "supplier:nosuch"],
        # (all of November's lines are not used: which category a demo QR meal falls in varies between runs)
        ["reconcile", "--month", month, "--scope", f"school:{school}"],
        ["reconcile", "--month", "2026-10", "--scope", f"school:{school}"],
        ["reconcile", "--month", month, "--scope", f"supplier:{supplier}", "--format", "csv",
         "--output", str(files / "rec.csv")],
        ["export-entries", "--month", "2099-01", "--format", "csv", "--output", str(files / "x.csv"),
         "--no-progress"],
        ["export-entries", "--month", month, "--format", "csv", "--output", str(files / "entries.csv"),
         "--no-progress"],
        ["meal-sheet", "--month", month, "--school", school, "--format", "csv", "--out", str(files / "s.csv")],
        ["meal-sheet", "--month", month, "--school", school, "--class", "2А", "--format", "json",
         "--out", str(files / "s.json")],
        # A Latin "A": the school has no such class; the error names the classes it has.
        ["meal-sheet", "--month", month, "--school", school, "--class", "2A", "--format", "json",
         "--out", str(files / "s2.json")],
        ["payment-registry", "--month", month, "--format", "csv", "--out", str(files / "r.csv")],
        ["verify-proof", str(claim)],
        ["import", "schools", str(files / "missing.csv")],
        ["import", "nosuch", str(claim)],
        ["import", "schools", str(claim)],
        ["import-claim", "--supplier", "000000000000", "--month", month, str(files / "missing.csv")],
        ["import-claim", "--supplier", supplier, "--month", "2026-10", str(bad_claim)],
        ["import-claim", "--supplier", supplier, "--month", "2026-10", str(claim)],
        ["close-period", "--region", "nosuch", "--month", "2026-10"],
        ["dev-token"],
        ["dev-token", "--parent", "123"],
        ["dev-token", "--role", "operator", "--parent", "820130400004"],
        ["vouchers", "sync", "--today", "2026-11-20", "--school", "000000000000"],
        ["vouchers", "sync", "--school-year", "bogus", "--today", "2026-11-20"],
        ["vouchers", "offer", "--today", "2026-11-20"],
        ["vouchers", "sync", "--today", "2026-11-20"],
        ["vouchers", "expire", "--today", "2026-11-20"],
        ["serve", "--port", "0"],
        ["run-demo", "--terminals", "9"],
        [*DEMO, "--out", str(files / "csv")],
        ["import", "schools", str(files / "csv" / "schools.csv")],
        ["import", "eligibility", str(files / "csv" / "eligibility.csv")],
    ]


def outputs_transcript(database_url: str, tmp: Path, commands: Sequence[list[str]] | None = None) -> str:
    """A fresh demo world on `database_url` (migrated or empty), then each command: status, stdout, stderr."""
    root = root_command()
    runner = CliRunner()
    env = {"WALLET_DATABASE_URL": database_url, "WALLET_INSTANCE_PATH": str(tmp / "instance"),
           "COLUMNS": COLUMNS, "WALLET_ENV": "development"}
    files = tmp / "files"
    files.mkdir(parents=True, exist_ok=True)
    parts = []
    for args in [DEMO, *(commands if commands is not None else _commands(files))]:
        result = runner.invoke(root, args, prog_name="wallet", env=env, terminal_width=WIDTH,
                               catch_exceptions=False)
        parts.append(f"=== wallet {' '.join(args)}  [exit {result.exit_code}]\n"
                     f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}")
    return normalise("\n".join(parts), tmp)


def main() -> None:
    # Log records are not part of a command's output here (the `wallet` script sends them to stderr as JSON
    # lines, tests capture them): without a handler, logging's last resort would print warnings into stderr.
    logging.getLogger().addHandler(logging.NullHandler())
    GOLDEN.mkdir(exist_ok=True)
    HELP_FILE.write_text(help_transcript(), encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        OUTPUTS_FILE.write_text(outputs_transcript(f"sqlite:///{path / 'wallet.sqlite3'}", path), encoding="utf-8")
    print(f"wrote {HELP_FILE} and {OUTPUTS_FILE}", file=sys.stderr)


if __name__ == "__main__":
    main()
