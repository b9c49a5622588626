"""HTTP: endpoint declaration, auth, validation, idempotency, problems, OpenAPI."""
