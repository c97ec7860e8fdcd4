"""The owner of everything no HTTP bearer names: stdio, a single auth_token, and conversations kept
before owners existed. A module of its own so the server's owner scoping, loaded at every start,
imports no store model."""

DEFAULT_OWNER = "default"
