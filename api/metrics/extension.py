"""The key under which the app keeps its metrics recorder (`app.extensions`), shared by init and endpoint."""

EXTENSION = "wallet.metrics"
