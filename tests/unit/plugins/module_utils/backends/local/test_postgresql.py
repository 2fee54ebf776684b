# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local store on PostgreSQL (issue 18): how local_db is read, logging in, errors, schema and migrations,
the write lock, against the session's real server (pg_sim). The contract suite, the refusal table and the
concurrency tests run on it too (conftest.CONTRACT_BACKENDS, test_concurrency.py)."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _local_db
from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as outbox
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmAuthError, ItsmSettingsError, ItsmStorageError, ItsmTransientError, ItsmUnavailableError)
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import dialect as local_dialect
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import schema as local_schema
from tests import postgresql_server
from tests.unit.plugins.module_utils.backends import pg_sim

PASSWORD = pg_sim.PASSWORD


def _tables(local_db: str) -> set[str]:
    with pg_sim.connect(local_db) as conn:
        return {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}


# -- how local_db is read --------------------------------------------------------------------------

def test_a_postgresql_url_selects_the_postgresql_store_and_creates_no_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local_db = pg_sim.new_store()

    change = pg_sim.backend(local_db).create("change", {"short_description": "on the server"})

    assert change["number"] == "CHG0000001"
    assert os.listdir(tmp_path) == []  # before issue 18: a folder named "postgresql:" and an SQLite file in it
    assert {"changes", "incidents", "journal", "schema_version", "counters"} <= _tables(local_db)
    with pg_sim.connect(local_db) as conn:
        assert conn.execute("SELECT number FROM changes").fetchall() == [("CHG0000001",)]
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == local_schema.SCHEMA_VERSION


def test_postgres_is_the_same_scheme(tmp_path):
    local_db = pg_sim.new_store().replace("postgresql://", "postgres://", 1)

    assert pg_sim.backend(local_db).create("incident", {"short_description": "s"})["number"] == "INC0000001"


@pytest.mark.parametrize("url", ["mysql://itsm:secret-pw@db/itsm", "sqlite:///srv/itsm.sqlite", "file:///srv/itsm.sqlite",
                                 "https://itsm.example.com/db"])
def test_any_other_scheme_is_refused_naming_the_option_and_what_is_allowed(tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ItsmSettingsError) as caught:
        LocalBackend(ConnectionSettings(local_db=url))

    message = str(caught.value)
    assert message.startswith("local_db: ")
    assert "the path of an SQLite file, or a PostgreSQL URL such as postgresql://" in message
    assert f"the scheme {url.split(':')[0]}:// is not one of postgresql://, postgres://" in message
    assert "secret-pw" not in message
    assert caught.value.details["option"] == "local_db"
    assert os.listdir(tmp_path) == []


def test_a_file_path_is_still_a_file_with_home_and_variables_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("STORE_DIR", "stores")

    backend = LocalBackend(ConnectionSettings(local_db="~/$STORE_DIR/itsm.sqlite"))

    assert backend.path == str(tmp_path / "stores" / "itsm.sqlite")
    assert backend.store.dialect is local_dialect.SQLITE


def test_the_url_is_shown_without_its_password_and_its_secrets_are_masked():
    url = "postgresql://itsm:p%40ss word@db.example.com:5432/itsm?sslmode=verify-full&sslpassword=keypass"

    read = _local_db.read(url)

    assert read.shown == ("postgresql://itsm:********@db.example.com:5432/itsm?sslmode=verify-full"
                          "&sslpassword=********")
    assert set(read.secrets) == {"p%40ss word", "p@ss word", "keypass"}
    assert set(ConnectionSettings(local_db=url, password="opt").secrets()) >= {"opt", "p@ss word", "keypass"}
    assert outbox.target_of(ConnectionSettings(local_db=url)) == "local:" + read.shown


# -- logging in ------------------------------------------------------------------------------------

def test_the_password_may_come_from_the_url():
    local_db = pg_sim.new_store(password_in_url=True)

    backend = LocalBackend(ConnectionSettings(local_db=local_db, username="t"))

    assert backend.create("incident", {"short_description": "s"})["number"] == "INC0000001"
    assert PASSWORD not in backend.where


def test_the_password_option_wins_over_the_urls():
    local_db = pg_sim.new_store().replace("itsm@", "itsm:wrong@")

    assert pg_sim.backend(local_db, password=PASSWORD).create("incident", {"short_description": "s"})


def test_a_wrong_password_is_an_auth_error_that_never_shows_it():
    local_db = pg_sim.new_store().replace("itsm@", "itsm:not-the-password@")

    with pytest.raises(ItsmAuthError) as caught:
        LocalBackend(ConnectionSettings(local_db=local_db)).create("incident", {"short_description": "s"})

    message = str(caught.value)
    assert message.startswith("local_db: postgresql://itsm:********@127.0.0.1:")
    assert "refused the credentials" in message and "not-the-password" not in message
    assert caught.value.details["option"] == "local_db"


def test_a_server_that_does_not_answer_is_transient_and_named_without_password():
    port = postgresql_server._free_port()  # pylint: disable=protected-access  # a port nobody listens on
    local_db = f"postgresql://itsm:hidden-pw@127.0.0.1:{port}/itsm"

    for call in (lambda backend: backend.get("change", number="CHG0000001"),
                 lambda backend: backend.create("change", {"short_description": "s"})):
        with pytest.raises(ItsmTransientError) as caught:
            call(LocalBackend(ConnectionSettings(local_db=local_db, timeout=2)))
        assert f"local_db: postgresql://itsm:********@127.0.0.1:{port}/itsm: cannot reach the database server" \
            in str(caught.value)
        assert "hidden-pw" not in str(caught.value)


def test_tls_options_in_the_url_reach_the_driver():
    # The test server has no TLS: sslmode=require must make the connection fail, which proves it was passed on.
    local_db = pg_sim.new_store() + "&sslmode=require"

    with pytest.raises(ItsmTransientError) as caught:
        pg_sim.backend(local_db).create("incident", {"short_description": "s"})

    assert "SSL" in str(caught.value)


def test_without_psycopg_a_url_is_refused_naming_the_option_and_the_package(monkeypatch):
    monkeypatch.setattr(local_dialect, "psycopg", None)

    with pytest.raises(ItsmUnavailableError) as caught:
        pg_sim.backend().create("incident", {"short_description": "s"})

    assert "needs the Python package psycopg 3" in str(caught.value) and "pip install" in str(caught.value)
    assert caught.value.details["option"] == "local_db"


# -- the store --------------------------------------------------------------------------------------

def test_reads_of_an_empty_database_return_nothing_and_create_no_table():
    local_db = pg_sim.new_store()
    backend = pg_sim.backend(local_db)

    assert backend.get("change", number="CHG0000001") is None
    assert list(backend.find("incident", {})) == []
    assert list(backend.iter_cis()) == []
    assert _tables(local_db) == set()


def test_another_applications_tables_are_refused():
    local_db = pg_sim.new_store()
    with pg_sim.connect(local_db) as conn:
        conn.execute("CREATE TABLE things (x int)")

    with pytest.raises(ItsmStorageError) as caught:
        pg_sim.backend(local_db).create("incident", {"short_description": "s"})

    assert "is a database of another application" in str(caught.value)


def test_a_version_1_store_is_migrated_to_the_schema_version():
    local_db = pg_sim.new_store()
    backend = pg_sim.backend(local_db)
    conn = backend.store.dialect.open(backend.store.location, PASSWORD, 5, True)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
    local_schema.MIGRATIONS[0](conn)
    conn.execute("INSERT INTO schema_version VALUES (1, 'then')")
    conn.close()

    backend.upsert_ci("web01", "linux_server")
    backend.put_ci_relations("web01", [{"type": "Depends on", "target": "web01"}])

    assert {"ci_relations", "attachments"} <= _tables(local_db)
    with pg_sim.connect(local_db) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == local_schema.SCHEMA_VERSION


def test_the_audit_trail_is_append_only_on_the_server_too():
    local_db = pg_sim.new_store()
    pg_sim.backend(local_db).create("incident", {"short_description": "s"})

    with pg_sim.connect(local_db) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="journal is append-only"):
            conn.execute("UPDATE journal SET text = 'rewritten'")
        with pytest.raises(psycopg.errors.RaiseException, match="journal is append-only"):
            conn.execute("DELETE FROM journal")


def test_text_sorts_and_compares_by_bytes_as_on_sqlite():
    backend = pg_sim.backend()
    for name in ("web-b", "Web-a", "web_a", "WEB-C"):
        backend.upsert_ci(name, "linux_server")

    assert [ci["name"] for ci in backend.iter_cis()] == sorted(["web-b", "Web-a", "web_a", "WEB-C"])


def test_a_writer_holding_the_lock_past_the_timeout_is_transient():
    local_db = pg_sim.new_store()
    pg_sim.backend(local_db).create("incident", {"short_description": "s"})
    holder = pg_sim.connect(local_db)
    holder.execute("BEGIN")
    for statement in local_dialect.POSTGRESQL.write_begin(5)[1:]:
        holder.execute(statement)
    try:
        with pytest.raises(ItsmTransientError) as caught:
            pg_sim.backend(local_db, timeout=0.3).create("incident", {"short_description": "t"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "stayed locked by other writers for the whole timeout of 0.3 seconds" in str(caught.value)
    assert pg_sim.backend(local_db).create("incident", {"short_description": "u"})["number"] == "INC0000002"


def test_two_stores_in_one_database_keep_their_own_numbers_and_locks():
    first, second = pg_sim.new_store(), pg_sim.new_store()
    holder = pg_sim.connect(first)
    holder.execute("BEGIN")
    for statement in local_dialect.POSTGRESQL.write_begin(5)[1:]:
        holder.execute(statement)
    try:
        number = pg_sim.backend(second, timeout=2).create("change", {"short_description": "s"})["number"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert number == "CHG0000001"
    assert pg_sim.backend(first).create("change", {"short_description": "s"})["number"] == "CHG0000001"


def test_a_failed_write_leaves_nothing_behind():
    local_db = pg_sim.new_store()
    backend = pg_sim.backend(local_db)
    backend.create("change", {"short_description": "warm-up"})
    with pg_sim.connect(local_db) as conn:
        conn.execute("CREATE FUNCTION refuse_ci() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                     "IF NEW.ci_name = 'bad' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER refuse_ci BEFORE INSERT ON affected_cis FOR EACH ROW EXECUTE FUNCTION refuse_ci()")

    with pytest.raises(ItsmStorageError) as caught:
        backend.create("change", {"short_description": "s", "configuration_items": ["bad"], "work_notes": "n"})

    assert "disk on fire" in str(caught.value)
    with pg_sim.connect(local_db) as conn:
        assert conn.execute("SELECT count(*) FROM changes").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM journal").fetchone()[0] == 1
    assert backend.create("change", {"short_description": "s"})["number"] == "CHG0000002"


def test_a_lost_server_connection_is_replaced_on_the_next_call():
    name = "lost-" + uuid.uuid4().hex[:12]  # this backend's connection only: other tests share the server
    local_db = pg_sim.new_store() + f"&application_name={name}"
    backend = pg_sim.backend(local_db)
    backend.create("incident", {"short_description": "s"})
    with pg_sim.connect(local_db) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s "
                     "AND pid <> pg_backend_pid()", [name])

    with pytest.raises((ItsmTransientError, ItsmStorageError)):
        backend.create("incident", {"short_description": "t"})
    assert backend.create("incident", {"short_description": "u"})["number"] == "INC0000002"
