"""Files the commands write: under a temporary name beside the target, renamed into place when complete, so an
interrupted export never leaves a half-written file; and `--lang`, the language of an XLSX file's names."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import click

# --lang of the commands that write XLSX files: the language of its sheet and column names.
lang_option = click.option(
    "--lang", type=click.Choice(["kk", "ru", "en"]), default="ru", show_default=True,
    help="Language of an XLSX file's sheet and column names (CSV and JSON keep their keys).")


def xlsx_labels(lang: str) -> Callable[[str], str]:
    from api.console.export_labels import labeller

    return labeller(lang)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary file beside `path`, renamed onto it only when the block completes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_chunks(chunks: Iterator[bytes], path: Path) -> int:
    """Write the chunks to `path` atomically; the number of bytes written."""
    size = 0
    with atomic_output(path) as temporary, temporary.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
            size += len(chunk)
    return size
