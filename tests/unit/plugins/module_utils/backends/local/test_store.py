# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local store's file: creation, schema version and migrations, storage errors (real SQLite files)."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _records as records
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmStorageError, ItsmTransientError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import schema as local_schema
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import store as local_store
from tests.unit.plugins.module_utils.backends.local.walks import dump


# -- the file ----------------------------------------------------------------------------------

def test_first_write_creates_directories_and_a_wal_store_at_the_schema_version(local, db_path):
    assert not os.path.exists(os.path.dirname(db_path))

    local.create("change", {"short_description": "s"})

    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == local_schema.SCHEMA_VERSION
    conn.close()


def test_the_store_its_wal_and_shm_and_its_directories_are_private_whatever_the_umask(tmp_path):
    """Issue 14 item 5: under the usual umask 022 they were 0644 and 0755, readable by anyone."""
    db_path = str(tmp_path / "a" / "b" / "itsm.sqlite")
    previous = os.umask(0o022)
    try:
        backend = LocalBackend(ConnectionSettings(local_db=db_path, username="tester"))
        backend.create("incident", {"short_description": "s", "work_notes": "n"})
        files = [db_path + suffix for suffix in ("", "-wal", "-shm")]
        modes = {path: stat_mode(path) for path in files if os.path.exists(path)}
        backend.close()
    finally:
        os.umask(previous)
    assert set(modes) >= {db_path, db_path + "-wal", db_path + "-shm"}
    assert modes == {path: 0o600 for path in modes}
    assert stat_mode(str(tmp_path / "a")) == 0o700 and stat_mode(str(tmp_path / "a" / "b")) == 0o700


def test_an_existing_store_readable_by_others_is_warned_of_once_naming_the_file(tmp_path):
    db_path = str(tmp_path / "open" / "itsm.sqlite")
    LocalBackend(ConnectionSettings(local_db=db_path, username="tester")).create("change", {"short_description": "s"})
    os.chmod(db_path, 0o644)
    warnings: list[str] = []
    for _round in range(2):
        backend = LocalBackend(ConnectionSettings(local_db=db_path, username="tester"), warn=warnings.append)
        backend.get("change", number="CHG0000001")
        backend.close()
    about_file = [message for message in warnings if f"{db_path} is readable by other users" in message]
    assert len(about_file) == 1 and "chmod 600" in about_file[0]


def stat_mode(path: str) -> int:
    return os.stat(path).st_mode & 0o777


def test_reads_of_a_missing_store_return_nothing_and_create_no_file(local, db_path):
    assert local.get("change", number="CHG0000001") is None
    assert list(local.find("incident", {})) == []
    assert local.journal("change", {"id": "x"}) == []
    assert local.approvals({"id": "x"}) == []
    assert local.blackouts("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z") == []
    assert local.template("weekly") is None
    assert list(local.iter_cis()) == []
    assert not os.path.exists(os.path.dirname(db_path))


def test_default_path_is_under_the_ansible_home(monkeypatch, tmp_path):
    monkeypatch.setenv("ANSIBLE_HOME", str(tmp_path / "ansible-home"))

    backend = LocalBackend(ConnectionSettings())

    assert backend.path == str(tmp_path / "ansible-home" / "opsgate_itsm" / "itsm.sqlite")


def test_registry_builds_the_local_backend(db_path):
    backend = build_backend(ConnectionSettings(backend="local", local_db=db_path))

    assert isinstance(backend, LocalBackend)
    assert backend.name == "local"
    assert backend.capabilities == {"approvals", "affected_cis", "blackouts", "templates", "cmdb", "cmdb_relations",
                                    "attachments", "problems"}


def test_a_second_backend_sees_the_first_ones_records(make_local):
    change = make_local().create("change", {"short_description": "s"})

    assert make_local().get("change", number=change["number"]) == change


def test_migrations_are_ordered_functions_one_per_version():
    assert len(local_schema.MIGRATIONS) == local_schema.SCHEMA_VERSION
    assert all(callable(step) for step in local_schema.MIGRATIONS)


def test_every_canonical_writable_field_has_a_column():
    assert set(records.CHANGE_WRITABLE) <= set(local_schema.columns("change"))
    assert set(records.INCIDENT_WRITABLE) <= set(local_schema.columns("incident"))


def test_version_1_store_gains_the_relations_table(tmp_path):
    path = str(tmp_path / "old.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
    local_schema.MIGRATIONS[0](conn)
    conn.execute("INSERT INTO schema_version VALUES (1, 'then')")
    conn.close()
    store = local_store.open_store(path, 5, create=False)
    tables = {row[0] for row in store.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "ci_relations" in tables
    assert store.execute("SELECT max(version) FROM schema_version").fetchone()[0] == local_schema.SCHEMA_VERSION
    store.close()


def test_the_audit_trail_is_append_only(local, db_path):
    local.create("incident", {"short_description": "s"})
    conn = sqlite3.connect(db_path)

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE journal SET text = 'rewritten'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM journal")
    conn.close()


# -- storage errors ------------------------------------------------------------------------------

def test_a_corrupt_file_is_a_storage_error_naming_the_path(make_local, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database, just some text that is long enough " * 20)
    backend = make_local(local_db=str(path))

    for call in (lambda: backend.get("change", number="CHG0000001"),
                 lambda: backend.create("change", {"short_description": "s"})):
        with pytest.raises(ItsmStorageError) as caught:
            call()
        assert str(path) in str(caught.value) and "not an SQLite database" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert caught.value.details["option"] == "local_db"


def test_a_path_that_cannot_be_created_is_a_storage_error(make_local, tmp_path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    backend = make_local(local_db=str(blocker / "sub" / "itsm.sqlite"))

    with pytest.raises(ItsmStorageError) as caught:
        backend.create("incident", {"short_description": "s"})

    assert str(blocker / "sub") in str(caught.value) and "cannot create the directory" in str(caught.value)


def test_a_directory_as_local_db_is_a_storage_error(make_local, tmp_path):
    with pytest.raises(ItsmStorageError) as caught:
        make_local(local_db=str(tmp_path)).create("incident", {"short_description": "s"})
    assert "is a directory" in str(caught.value)


def test_another_applications_database_is_refused(make_local, tmp_path):
    path = str(tmp_path / "other.sqlite")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE things (x)")
    conn.commit()
    conn.close()

    with pytest.raises(ItsmStorageError) as caught:
        make_local(local_db=path).create("incident", {"short_description": "s"})
    assert "another application" in str(caught.value)


def test_a_store_from_a_newer_collection_is_refused(local, make_local, db_path):
    local.create("incident", {"short_description": "s"})
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    conn.commit()
    conn.close()

    with pytest.raises(ItsmStorageError) as caught:
        make_local().get("incident", number="INC0000001")
    assert "schema version 99" in str(caught.value)


def test_a_lock_held_past_the_timeout_is_transient(make_local, db_path):
    make_local().create("incident", {"short_description": "s"})
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ItsmTransientError) as caught:
            make_local(timeout=0.2).create("incident", {"short_description": "t"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db_path in str(caught.value) and "locked" in str(caught.value)


def test_a_failed_write_leaves_nothing_behind(local, db_path):
    local.create("change", {"short_description": "warm-up"})
    # A real SQLite failure half-way through create(): after the number, the row and the CI insert began.
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TRIGGER refuse_ci BEFORE INSERT ON affected_cis WHEN NEW.ci_name = 'bad' "
                 "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    conn.commit()
    conn.close()
    before = dump(db_path)

    with pytest.raises(ItsmStorageError) as caught:
        local.create("change", {"short_description": "s", "configuration_items": ["bad"], "work_notes": "n"})

    assert "disk on fire" in str(caught.value)
    assert dump(db_path) == before
    assert local.create("change", {"short_description": "s"})["number"] == "CHG0000002"


def test_switching_a_new_store_to_wal_waits_for_a_writer_that_holds_it(make_local, db_path):
    # SQLite answers the WAL switch with "database is locked" at once, without the busy timeout,
    # while another connection holds a write lock on a new file: the backend must retry, not fail.
    os.makedirs(os.path.dirname(db_path))
    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.2, holder.execute, ("ROLLBACK",))
    release.start()
    try:
        incident = make_local(timeout=10).create("incident", {"short_description": "s"})
    finally:
        release.join()
        holder.close()
    assert incident["number"] == "INC0000001"
