"""`wallet import KIND FILE` on the command line: exit 0 with a summary, or exit 2 with FILE:LINE errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli.context import EXIT_BAD_INPUT
from cli.imports import import_command
from wallet.identifiers import make_bin
from wallet.models import School

HEADER = "bin,name_kk,name_ru,region_code,region_name_kk,region_name_ru\n"


def valid_bins(count: int) -> list[str]:
    found: list[str] = []
    serial = 1
    while len(found) < count:
        value = make_bin(2013, 4, 4, serial)
        serial += 1
        if value:
            found.append(value)
    return found


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str, lang: str | None = None):  # type: ignore[no-untyped-def]
        env = {"WALLET_DATABASE_URL": database_url, "WALLET_ENV": "test", "WALLET_INSTANCE_PATH": str(tmp_path),
               "WALLET_LANG": lang}
        return CliRunner().invoke(import_command, list(args), env=env)

    return invoke


def test_import_prints_a_summary_and_is_idempotent(run, session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bins = valid_bins(2)
    path = tmp_path / "schools.csv"
    path.write_text(HEADER + "".join(f"{b},Мектеп,Школа,KZ-TST,Облыс,Область\n" for b in bins), encoding="utf-8")
    first = run("schools", str(path))
    assert first.exit_code == 0, first.output
    assert first.stdout == "imported schools: 2 created, 0 updated, 0 unchanged\n"
    second = run("schools", str(path))
    assert second.exit_code == 0
    assert second.stdout == "imported schools: 0 created, 0 updated, 2 unchanged\n"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(School)) == 2


def test_bad_rows_are_listed_on_stderr_with_exit_2(run, session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good, other = valid_bins(2)
    bad = other[:11] + str((int(other[11]) + 1) % 10)
    path = tmp_path / "schools.csv"
    path.write_text(HEADER + f"{good},Мектеп,Школа,KZ-TST,Облыс,Область\n{bad},Мектеп,,KZ-TST,Облыс,Область\n",
                    encoding="utf-8")
    result = run("schools", str(path))
    assert result.exit_code == EXIT_BAD_INPUT == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:3: bin: BIN check digit does not match",
        f"{path}:3: name_ru: is required",
        f"{path}: 2 errors; nothing was imported",
    ]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(School)) == 0


def test_bad_rows_read_in_the_operators_language(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (good,) = valid_bins(1)
    path = tmp_path / "schools.csv"
    path.write_text(HEADER + f"{good},Мектеп,Школа,KZ-TST,Облыс,Область\n{good},Мектеп,,KZ-TST,Облыс,Область\n"
                    "2013,x,y\n", encoding="utf-8")
    result = run("schools", str(path), lang="ru")
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stderr.splitlines() == [
        f"{path}:3: name_ru: обязательно",
        f"{path}:4: ожидалось ячеек, как в заголовке: 6, найдено: 3",
        f"{path}: 2 ошибки; ничего не импортировано",
    ]
    english = run("schools", str(path), lang="en")
    assert english.stderr.splitlines()[:2] == [
        f"{path}:3: name_ru: is required", f"{path}:4: expected 6 cells as in the header, found 3"]


def test_file_level_errors_have_no_column(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + "Ş".encode("cp1254") + b"\n")
    result = run("schools", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(f"{path}:2: the file is not valid UTF-8")


def test_unknown_kind_and_missing_file_are_usage_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.csv"
    path.write_text(HEADER, encoding="utf-8")
    unknown_kind = run("teachers", str(path))
    assert unknown_kind.exit_code == 2
    assert "'teachers' is not one of" in unknown_kind.stderr
    missing = run("schools", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr
