"""The `wallet` command line: an entry point beside the web one (api/), calling the same domain services.

One module per command group; the shared click context, the exit statuses and the error helpers are in
cli.context. wallet/ and api/ never import this package (import-linter keeps it so).
"""
