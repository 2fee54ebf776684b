# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local backend package (an SQLite file or a PostgreSQL database). FOR INTERNAL COLLECTION USE ONLY.

Bottom up: dialect.py (what SQLite and PostgreSQL do differently), schema.py (tables, migrations, rows) and
query.py (find filters, "open" as SQL), store.py (the database, its connection and transactions), model.py (the
record models on rows), the feature files taking a LocalStore (records, approvals, blackouts, templates,
attachments, cmdb), and backend.py, the facade.
"""

from __future__ import annotations

from .backend import LocalBackend

#: the class the registry (backends/__init__.py) builds for ``backend: local``
BACKEND = LocalBackend

__all__ = ["BACKEND", "LocalBackend"]
