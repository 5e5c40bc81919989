"""Reading import files: encodings, byte-order marks, headers, line numbers; a refused file writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from wallet.identifiers import make_bin
from wallet.importing import KINDS, ImportFailed, import_file
from wallet.importing.csvfile import parse_table
from wallet.models import Region, School

SCHOOL_HEADER = "bin,name_kk,name_ru,region_code,region_name_kk,region_name_ru,timezone"


def valid_bins(count: int, serial: int = 1) -> list[str]:
    found: list[str] = []
    while len(found) < count:
        value = make_bin(2012, 5, 4, serial)
        serial += 1
        if value:
            found.append(value)
    return found


def school_line(bin_: str, n: int = 1) -> str:
    return f"{bin_},Мектеп №{n},Школа №{n},KZ-TEST,Сынақ облысы,Тестовая область,Asia/Almaty"


def school_count(session_factory) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(School)) or 0


def write(path: Path, text: str, *, bom: bool = False, encoding: str = "utf-8") -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def failure(session_factory, kind: str, path: Path) -> ImportFailed:  # type: ignore[no-untyped-def]
    with pytest.raises(ImportFailed) as caught:
        import_file(session_factory, kind, path)
    return caught.value


def test_kinds_are_listed_in_dependency_order() -> None:
    assert KINDS == ("schools", "suppliers", "contracts", "students", "eligibility", "guardians", "calendar", "menus",
                     "serving-windows", "attendance")


@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_utf8_with_or_without_bom_and_either_newline(session_factory, tmp_path: Path, bom: bool, newline: str) -> None:
    bins = valid_bins(2)
    text = newline.join([SCHOOL_HEADER, school_line(bins[0], 1), school_line(bins[1], 2)]) + newline
    report = import_file(session_factory, "schools", write(tmp_path / "schools.csv", text, bom=bom))
    assert (report.created, report.updated, report.unchanged, report.rows) == (2, 0, 0, 2)
    with session_factory() as session:
        names = sorted(session.scalars(select(School.name_ru)))
        assert names == ["Школа №1", "Школа №2"]  # Cyrillic survived; the BOM is not part of the first column


def test_not_utf8_is_refused_with_the_line_of_the_bad_byte(session_factory, tmp_path: Path) -> None:
    bins = valid_bins(2)
    rows = [f"{b},Школа,Школа,KZ-TEST,Область,Область,Asia/Almaty" for b in bins]  # cp1251 has no Kazakh letters
    text = "\n".join([SCHOOL_HEADER, *rows]) + "\n"
    exc = failure(session_factory, "schools", write(tmp_path / "cp1251.csv", text, encoding="cp1251"))
    assert len(exc.errors) == 1
    assert exc.errors[0].line == 2
    assert "not valid UTF-8" in exc.errors[0].message
    assert school_count(session_factory) == 0


@pytest.mark.parametrize(
    "content", [b"", b"\xef\xbb\xbf", b"\n\n", b"\xef\xbb\xbf\r\n"], ids=["0", "bom", "nl", "bom-nl"]
)
def test_empty_file_is_refused(session_factory, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    exc = failure(session_factory, "schools", path)
    assert [(e.line, e.message) for e in exc.errors] == [
        (1, "the file is empty; expected a header row naming the columns")
    ]


def test_header_only_imports_nothing(session_factory, tmp_path: Path) -> None:
    report = import_file(session_factory, "schools", write(tmp_path / "h.csv", SCHOOL_HEADER + "\n"))
    assert (report.created, report.updated, report.unchanged, report.rows) == (0, 0, 0, 0)


def test_header_missing_unknown_and_repeated_columns(session_factory, tmp_path: Path) -> None:
    bins = valid_bins(1)
    header = "bin,name_kk,name_kk,region_code,region_name_kk,region_name_ru,colour"
    text = f"{header}\n{bins[0]},a,b,KZ-TEST,c,d,red\n"
    exc = failure(session_factory, "schools", write(tmp_path / "bad-header.csv", text))
    found = {(e.line, e.column, e.message) for e in exc.errors}
    assert found == {
        (1, "name_kk", "column appears twice in the header"),
        (1, "colour", "unknown column"),
        (1, "name_ru", "missing column"),
    }
    assert school_count(session_factory) == 0


def test_optional_column_may_be_left_out(session_factory, tmp_path: Path) -> None:
    bins = valid_bins(1)
    text = "bin,name_kk,name_ru,region_code,region_name_kk,region_name_ru\n" f"{bins[0]},a,b,KZ-TEST,c,d\n"
    import_file(session_factory, "schools", write(tmp_path / "no-tz.csv", text))
    with session_factory() as session:
        assert session.scalar(select(School.timezone)) == "Asia/Almaty"


def test_semicolon_separated_file_gets_a_hint(session_factory, tmp_path: Path) -> None:
    text = SCHOOL_HEADER.replace(",", ";") + "\n"
    exc = failure(session_factory, "schools", write(tmp_path / "semi.csv", text))
    assert any("separated by commas" in e.message for e in exc.errors)


def test_wrong_number_of_cells_is_reported_on_its_line(session_factory, tmp_path: Path) -> None:
    bins = valid_bins(2)
    text = "\n".join([SCHOOL_HEADER, school_line(bins[0]), f"{bins[1]},only,three"]) + "\n"
    exc = failure(session_factory, "schools", write(tmp_path / "width.csv", text))
    assert [(e.line, e.message) for e in exc.errors] == [(3, "expected 7 cells as in the header, found 3")]
    assert school_count(session_factory) == 0


def test_line_numbers_count_the_header_and_multiline_cells(session_factory, tmp_path: Path) -> None:
    bins = valid_bins(3)
    bad = bins[2][:11] + str((int(bins[2][11]) + 1) % 10)
    text = "\n".join([
        SCHOOL_HEADER,
        f'{bins[0]},"Мектеп\nекі жолда",Школа,KZ-TEST,Сынақ облысы,Тестовая область,',  # lines 2-3
        "",  # line 4: blank lines are skipped
        school_line(bins[1], 2),  # line 5
        school_line(bad, 3),  # line 6
    ]) + "\n"
    exc = failure(session_factory, "schools", write(tmp_path / "lines.csv", text))
    assert [(e.line, e.column, e.message) for e in exc.errors] == [
        (2, "name_kk", "contains a control character"),  # a line break inside a name is refused
        (6, "bin", "BIN check digit does not match"),
    ]


def test_every_error_of_every_row_is_reported_in_line_order(session_factory, tmp_path: Path) -> None:
    bins = valid_bins(2)
    text = "\n".join([
        SCHOOL_HEADER,
        f"{bins[0]},,Школа,KZ-TEST,a,b,Mars/Olympus",
        school_line(bins[1], 2),
        "12345,a,b,KZ-TEST,a,b,",
    ]) + "\n"
    exc = failure(session_factory, "schools", write(tmp_path / "many.csv", text))
    assert [(e.line, e.column) for e in exc.errors] == [(2, "name_kk"), (2, "timezone"), (4, "bin")]
    assert exc.errors[0].message == "is required"
    assert "unknown IANA time zone" in exc.errors[1].message
    assert exc.errors[2].message == "BIN must be exactly 12 digits"
    assert "line 2: name_kk: is required" in str(exc)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Region)) == 0
    assert school_count(session_factory) == 0


def test_control_characters_in_text_are_refused(session_factory, tmp_path: Path) -> None:
    bins = valid_bins(1)
    text = f"{SCHOOL_HEADER}\n{bins[0]},a\x00b,c,KZ-TEST,d,e,\n"
    exc = failure(session_factory, "schools", write(tmp_path / "nul.csv", text))
    assert [(e.line, e.column, e.message) for e in exc.errors] == [(2, "name_kk", "contains a control character")]


def test_parse_table_keeps_cells_by_column_name() -> None:
    table = parse_table("b,a\n1,2\n\n3,4\n", ("a", "b"))
    assert [(r.line, r.cells) for r in table.rows] == [(2, {"b": "1", "a": "2"}), (4, {"b": "3", "a": "4"})]
    assert table.errors == []


def test_unknown_kind_is_a_programming_error(session_factory, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown import kind"):
        import_file(session_factory, "teachers", write(tmp_path / "x.csv", "a\n"))
