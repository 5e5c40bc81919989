"""The witness's HTTP interface: POST /add-checkpoint and GET /<origin hash>/checkpoint (tlog-witness)."""

from __future__ import annotations

from flask import Flask, Response, request

from witness.config import WitnessConfig
from witness.protocol import MAX_BODY_BYTES, AddError, add_checkpoint
from witness.state import StateStore

__all__ = ["create_app"]


def create_app(config: WitnessConfig) -> Flask:
    app = Flask("witness")
    # One byte past the limit: werkzeug cuts a chunked body at max_content_length without saying so, and a
    # cut body must be refused (413), never read as a shorter request.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    store = StateStore(config.directory)

    @app.post("/add-checkpoint")
    def add() -> Response:
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return _text(413, "request body too large\n")
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY_BYTES:  # a chunked body, read one byte past the limit
            return _text(413, "request body too large\n")
        try:
            cosignature = add_checkpoint(config, store, body)
        except AddError as exc:
            return _text(exc.status, exc.body, exc.content_type)
        return _text(200, cosignature)

    @app.get("/<origin_hash>/checkpoint")
    def checkpoint(origin_hash: str) -> Response:
        state = store.load_by_hash(origin_hash)
        if state is None:
            return _text(404, "no checkpoint cosigned for this log\n")
        return _text(200, state.checkpoint)

    @app.errorhandler(413)
    def too_large(_exc: Exception) -> Response:
        return _text(413, "request body too large\n")

    @app.errorhandler(404)
    def not_found(_exc: Exception) -> Response:
        return _text(404, "not found\n")

    @app.errorhandler(405)
    def not_allowed(_exc: Exception) -> Response:
        return _text(405, "method not allowed\n")

    return app


def _text(status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(body, status=status, content_type=content_type)
