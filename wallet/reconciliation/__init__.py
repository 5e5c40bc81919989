"""Monthly reconciliation for auditors, schools, suppliers and operators.

- scope: which schools (and, for a supplier, which lines) a caller's reconciliation covers;
- heads: the chain sizes and hashes a month is computed from (the close checkpoints of a closed month);
- queries: the reconciliation itself, aggregated by the database, assembled from its statements' modules:
  lines (and the month's first grouping), days, sequence_gaps and claim_comparison (the parts of one main
  statement: parts), children, ceiling, adjustments; results holds what it returns, dialect and reading what
  its statements share;
- claims: suppliers' claims, checked whole and stored as versions;
- periods: closing a month for a region, with a signed checkpoint of every school chain;
- exports, writers: CSV, XLSX and JSON files of a reconciliation or of its entries, streamed;
- proofs: inclusion and consistency proofs, and their offline verification;
- cli: the `wallet reconcile`, `export-entries`, `close-period`, `import-claim`, `verify-proof` and
  `public-key` commands.
"""
