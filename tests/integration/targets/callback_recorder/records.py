"""Assert on the records a local store holds: python records.py <local_db> <python expression>.

The expression sees ``changes`` and ``incidents`` (lists of records, each with its journal texts under ``notes``).
"""

import sys

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

db, expression = sys.argv[1], sys.argv[2]
backend = build_backend(ConnectionSettings(local_db=db))
records = {}
for kind in ("change", "incident"):
    records[kind + "s"] = [dict(record, notes=[note["text"] for note in backend.journal(kind, record)])
                           for record in backend.find(kind, {})]
if not eval(expression, {}, records):  # noqa: S307 - the test's own expression
    sys.exit(f"FAILED: {expression}\nchanges: {records['changes']}\nincidents: {records['incidents']}")
print(f"ok: {expression}")
