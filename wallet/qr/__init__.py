"""Dynamic QR tokens: issued to parents for a child with an active voucher, checked by terminals offline
and by the ingest in any case. See token.py for the format."""

from wallet.qr.token import QrClaims, QrKeyring, QrTokenError, decode_token, encode_token

__all__ = ["QrClaims", "QrKeyring", "QrTokenError", "decode_token", "encode_token"]
