"""ServiceNow REST simulator: Table, Attachment, Batch, Aggregate and Change Management APIs with
OAuth/Basic/API-key auth, business rules and fault injection, backed by SQLite.
Specification: shared/reference/servicenow-api.md.  Run with ``python -m tests.simulators.servicenow``."""
