"""Digital vouchers: offers from eligibility, guardians' consent, the lifecycle, and what covers a meal.

The interface other parts build on (QR tokens, ingest):

- `active_voucher(session, student_id, school_id, day) -> Voucher | None`
- `active_vouchers(session, student_ids, school_id, days) -> {(student_id, day): voucher_id}` (one query)
- `covers(voucher, school_id, day) -> bool` (the same rule on a voucher already read) and
  `vouchers_by_id(session, ids)` (QR ingest: the vouchers its tokens name, whatever their state)
"""

from wallet.vouchers.coverage import active_voucher, active_vouchers, covers, vouchers_by_id

__all__ = ["active_voucher", "active_vouchers", "covers", "vouchers_by_id"]
