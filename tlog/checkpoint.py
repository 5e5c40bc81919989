"""C2SP tlog-checkpoint note texts (c2sp.org/tlog-checkpoint@v1.0.0): origin, tree size, base64 root."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from tlog.note import NoteError, std_b64decode

__all__ = ["Checkpoint", "parse_checkpoint"]

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
MAX_SIZE = 2**63 - 1


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The note text (ends in a newline), what the log signs and witnesses cosign."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """A checkpoint from its note text; NoteError if it is not one."""
    if not text.endswith("\n"):
        raise NoteError("a checkpoint text ends in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(line == "" for line in lines):
        raise NoteError("a checkpoint has an origin, a size and a root hash line, none empty")
    origin, size_text, root_text, *extensions = lines
    if not _SIZE.fullmatch(size_text) or int(size_text) > MAX_SIZE:
        raise NoteError("the tree size is a decimal number without leading zeroes")
    root = std_b64decode(root_text)
    if len(root) != 32:
        raise NoteError("the root hash is 32 bytes")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))
