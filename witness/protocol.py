"""add-checkpoint (c2sp.org/tlog-witness): parse the request, check it, advance the state, cosign.

Every refusal is an `AddError` with the spec's status code; nothing is written unless every check passed,
and the cosignature leaves this module only after the new state is on disk.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from tlog import note
from tlog.checkpoint import Checkpoint, parse_checkpoint
from tlog.proof import EMPTY_ROOT, MAX_PROOF, verify_consistency
from witness.config import WitnessConfig
from witness.state import LogState, StateStore

__all__ = ["MAX_BODY_BYTES", "AddError", "add_checkpoint", "parse_request"]

MAX_BODY_BYTES = 64 * 1024
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")
log = logging.getLogger("witness")


class AddError(Exception):
    def __init__(self, status: int, message: str, *, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else message + "\n"
        self.content_type = "text/x.tlog.size" if status == 409 else "text/plain; charset=utf-8"


@dataclass(frozen=True)
class AddRequest:
    old_size: int
    proof: tuple[bytes, ...]
    note: str


def parse_request(body: bytes) -> AddRequest:
    if len(body) > MAX_BODY_BYTES:
        raise AddError(413, f"request body over {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AddError(400, "the request body is not UTF-8") from exc
    head, sep, checkpoint_note = text.partition("\n\n")
    if not sep:
        raise AddError(400, "expected an old size line, proof lines, a blank line and a checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if not match:
        raise AddError(400, "the first line is 'old <size>'")
    if len(lines) - 1 > MAX_PROOF:
        raise AddError(400, f"at most {MAX_PROOF} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            item = note.std_b64decode(line)
        except note.NoteError as exc:
            raise AddError(400, "a consistency proof line is one base64 hash") from exc
        if len(item) != 32:
            raise AddError(400, "a consistency proof hash is 32 bytes")
        proof.append(item)
    return AddRequest(int(match.group(1)), tuple(proof), checkpoint_note)


def add_checkpoint(config: WitnessConfig, store: StateStore, body: bytes, *, now: float | None = None) -> str:
    """Handle one add-checkpoint body; the cosignature line(s) on success, else AddError."""
    request = parse_request(body)
    try:
        text, _ = note.split(request.note)
        checkpoint = parse_checkpoint(text)
    except note.NoteError as exc:
        raise AddError(400, f"malformed checkpoint: {exc}") from exc
    verifiers = config.logs.get(checkpoint.origin)
    if verifiers is None:
        raise AddError(404, "unknown log origin")
    try:
        _, verified = note.verify(request.note, list(verifiers))
    except note.NoteError as exc:
        raise AddError(403, f"checkpoint signature: {exc}") from exc
    if request.old_size > checkpoint.size:
        raise AddError(400, "old size is larger than the checkpoint size")
    with store.lock():
        state = store.load(checkpoint.origin)
        known = state.size if state else 0
        if request.old_size != known:
            raise AddError(409, f"old size {request.old_size} is not the last cosigned size",
                           body=f"{known}\n")
        _check_consistency(checkpoint, request, state)
        timestamp = int(time.time() if now is None else now)
        cosignature = config.cosigner.cosign(text, timestamp)
        lines = [s.line() for s in verified] + [cosignature]
        store.save(LogState(checkpoint.origin, checkpoint.size, checkpoint.root_hash, note.join(text, lines)))
    log.info("cosigned %s at size %d", checkpoint.origin, checkpoint.size)
    return cosignature


def _check_consistency(checkpoint: Checkpoint, request: AddRequest, state: LogState | None) -> None:
    if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
        raise AddError(422, "a checkpoint of size 0 has the empty tree's root")
    if request.old_size == 0:
        if request.proof:
            raise AddError(422, "from size 0 the consistency proof is empty")
        return
    assert state is not None  # old_size == known > 0
    if not verify_consistency(state.size, checkpoint.size, state.root_hash, checkpoint.root_hash, request.proof):
        # Signed by the log yet inconsistent with what we cosigned: evidence of a fork, worth keeping.
        log.warning("refused %s at size %d: not consistent with size %d (possible fork)",
                    checkpoint.origin, checkpoint.size, state.size)
        raise AddError(422, "the consistency proof does not verify from the last cosigned checkpoint")
