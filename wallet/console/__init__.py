"""Reads behind the web console (api/console): a school's day at a glance, a month's figures per day, the
ledger's latest checkpoints and the last verification of each chain. Plain data, no web imports."""
