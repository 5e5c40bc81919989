"""The canteen-terminal agent and its simulator. Talks to the service over HTTP only (see openapi.yaml)."""
