"""Monthly partitions of the large append-only tables on PostgreSQL (SQLite keeps plain tables)."""
