# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local store on a real PostgreSQL server, for the unit tests (issue 18).

One server per pytest session (tests/postgresql_server.py), shared by the xdist workers: the session's
directory is made by tests/conftest.py, which also stops the server at the end; the first test that needs it
starts it. Each store is a fresh schema of the server's database, chosen in the URL as users may
(``?options=-csearch_path%3D<schema>``), so tests never see each other's records and need no clean-up.
"""

from __future__ import annotations

import os
import uuid

import psycopg

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from tests import postgresql_server

PASSWORD = postgresql_server.PASSWORD


def server_url() -> str:
    """The session's server (started on first use), as a URL without password."""
    return postgresql_server.shared(os.environ[postgresql_server.SESSION_ENV])


def new_store(password_in_url: bool = False) -> str:
    """A ``local_db`` URL of a new, empty schema: a store nobody else writes."""
    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(server_url(), password=PASSWORD, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = server_url()
    if password_in_url:
        url = url.replace(f"{postgresql_server.USER}@", f"{postgresql_server.USER}:{PASSWORD}@")
    return f"{url}?options=-csearch_path%3D{schema}"


def connect(local_db: str) -> psycopg.Connection:
    """A plain psycopg connection to the store ``local_db`` names, to look at it as another client would."""
    return psycopg.connect(local_db, password=PASSWORD, autocommit=True)


def backend(local_db: str | None = None, **options) -> LocalBackend:
    options.setdefault("username", "contract")
    options.setdefault("password", PASSWORD)
    return LocalBackend(ConnectionSettings(local_db=local_db or new_store(), **options))


def contract_backend(tmp_path) -> LocalBackend:
    return backend()
