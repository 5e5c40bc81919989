"""Reason codes of refused QR presentations (see wallet.qr.ingest for when each applies)."""

# Reason codes, not secrets (ruff S105 reads "TOKEN" in the names).
QR_TOKEN_OTHER_SCHOOL = "qr_token_other_school"  # noqa: S105
QR_TOKEN_OTHER_MEAL_TYPE = "qr_token_other_meal_type"  # noqa: S105
QR_TOKEN_EXPIRED = "qr_token_expired"  # noqa: S105
QR_TOKEN_REUSED = "qr_token_reused"  # noqa: S105
VOUCHER_NOT_ACTIVE = "voucher_not_active"
QR_TOKEN_OTHER_STUDENT = "qr_token_other_student"  # noqa: S105

QR_REASON_CODES = (
    QR_TOKEN_OTHER_SCHOOL, QR_TOKEN_OTHER_MEAL_TYPE, QR_TOKEN_EXPIRED, QR_TOKEN_REUSED, VOUCHER_NOT_ACTIVE,
    QR_TOKEN_OTHER_STUDENT,
)
