"""Reports a supplier is paid on, computed by the database like the reconciliation they must agree with.

- meal_sheet: the monthly meal sheet of a school (per class, pupil, serving day and meal type);
- payments: the supplier payment registry of a closed month (per supplier, contract and school);
- cli: the `wallet meal-sheet` and `wallet payment-registry` commands.
"""
