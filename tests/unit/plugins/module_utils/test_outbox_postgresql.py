# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recorder's outbox kept on a real PostgreSQL server (issue 17): the session's server (tests/postgresql_server.py).

Each test's outbox is a fresh schema (pg_sim.new_store), so tests never share items. The guarantees are the SQLite
file's: each item delivered exactly once under concurrent flushers (threads and processes), a lease renewed while a
flush works and given back soon after a flush is killed, nothing created by a read, the password never shown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as ob
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as rec
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmSettingsError, ItsmStorageError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from tests.unit.plugins.module_utils.backends import pg_sim
from tests.unit.plugins.module_utils.test_outbox import _STUCK_FLUSHER


def run(attempt="a1"):
    return rec.Run(run_id="job-1", attempt=attempt, playbook="site.yml")


def incident(attempt="a1"):
    failure = rec.Failure(playbook="site.yml", play="Web", hosts="web", task="Deploy", host="web1", message="boom")
    return rec.incident_items([failure], rec.Settings(), rec.MARKER_PREFIX + attempt, "run job-1",
                              {"correlation_id": run().correlation_id})[0]


def tables(url: str) -> set[str]:
    with pg_sim.connect(url) as conn:
        return {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}


@pytest.fixture
def outbox_url() -> str:
    """A PostgreSQL outbox nobody else uses, its password in the URL."""
    return pg_sim.new_store(password_in_url=True)


def test_items_queue_list_and_purge_in_a_table_of_the_urls_schema_and_a_read_creates_nothing(outbox_url):
    box = ob.Outbox(outbox_url)
    assert box.path.startswith("postgresql://itsm:********@")
    assert box.list() == [] and box.purge() == [] and box.leased_elsewhere("t") == (0, None)
    assert "outbox_items" not in tables(outbox_url)  # reading an outbox that was never written creates nothing
    item = incident()
    assert box.put([item], "local:x") == 1 and box.put([item], "local:x") == 0
    assert "outbox_items" in tables(outbox_url)
    [listed] = box.list()
    assert (listed["id"], listed["state"], listed["target"]) == (item["id"], "pending", "local:x")
    assert listed["leased_until"] is None
    assert box.purge(ids=[item["id"]], check_mode=True) == [item["id"]] and len(box.list()) == 1
    assert box.purge(ids=[item["id"]]) == [item["id"]] and box.list() == []


def test_the_outbox_and_the_local_store_share_one_url(tmp_path):
    """The outbox beside the local store's tables, on the same URL and password (the password option)."""
    url = pg_sim.new_store()
    settings = ConnectionSettings(backend="local", local_db=url, username="t", password=pg_sim.PASSWORD)
    backend = build_backend(settings)
    box = ob.Outbox(url, password=ob.password_of(settings))
    target = ob.target_of(settings)
    box.put([rec.change_item(run(), note="recap", code="unsuccessful"), incident()], target)
    try:
        report = ob.flush(box, backend, target, print)
        assert [entry["type"] for entry in report["delivered"]] == ["change", "incident"] and report["remaining"] == 0
        assert ob.flush(box, backend, target, print)["delivered"] == []
        assert len(list(backend.find("change", {}))) == 1 and len(list(backend.find("incident", {}))) == 1
    finally:
        backend.close()
    assert {"outbox_items", "counters", "journal"} <= tables(url)


def test_only_the_local_backends_password_reaches_the_outbox_database():
    assert ob.password_of(ConnectionSettings(backend="local", password="db-secret")) == "db-secret"
    assert ob.password_of(ConnectionSettings(backend="servicenow", url="https://x", password="sn-secret")) is None


def test_a_wrong_password_is_a_storage_error_naming_the_outbox_never_the_password():
    url = pg_sim.new_store().replace("itsm@", "itsm:not-the-password-42@")
    box = ob.Outbox(url)
    with pytest.raises(ItsmStorageError) as raised:
        box.put([incident()], "t")
    message = raised.value.message
    assert message.startswith("outbox: postgresql://itsm:********@") and "not-the-password-42" not in message
    assert raised.value.details["option"] == "outbox"
    given = ob.Outbox(pg_sim.new_store(), password="another-wrong-one-77")
    with pytest.raises(ItsmStorageError) as raised:
        given.list()
    assert "another-wrong-one-77" not in raised.value.message


def test_a_scheme_other_than_postgresqls_is_refused_naming_the_outbox():
    with pytest.raises(ItsmSettingsError) as raised:
        ob.Outbox("mysql://itsm:pw@db/itsm")
    assert raised.value.details["option"] == "outbox" and "pw" not in raised.value.message.replace("postgresql", "")


def test_two_flushers_at_once_deliver_each_item_exactly_once(tmp_path, outbox_url):
    """Three threads flush one PostgreSQL outbox into one local store: every item delivered by exactly one of them."""
    settings = ConnectionSettings(local_db=str(tmp_path / "itsm.sqlite"), username="t")
    target = ob.target_of(settings)
    ob.Outbox(outbox_url).put([incident(attempt=f"a{n}") for n in range(8)], target)
    reports = []
    start = threading.Barrier(3)

    def flusher():
        backend = build_backend(settings)
        start.wait()
        reports.append(ob.flush(ob.Outbox(outbox_url), backend, target, lambda message: None))
        backend.close()

    threads = [threading.Thread(target=flusher) for _unused in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    delivered = [entry["id"] for report in reports for entry in report["delivered"]]
    assert len(delivered) == 8 and len(set(delivered)) == 8
    box = ob.Outbox(outbox_url)
    assert {item["state"] for item in box.list(("pending", "delivered", "failed"))} == {"delivered"}
    assert all(item["attempts"] == 1 for item in box.list(("delivered",)))
    backend = build_backend(settings)
    [record] = list(backend.find("incident", {}))
    assert len(backend.journal("incident", record)) == 7  # one incident, one recurrence per later attempt
    backend.close()


def test_a_lease_is_exclusive_until_it_ends_and_renewal_keeps_it(outbox_url):
    box = ob.Outbox(outbox_url)
    box.put([incident("a1"), incident("a2")], "t")
    assert len(box.claim("t", "first", lease=1.0)) == 2
    assert box.claim("t", "second") == []  # held by the first
    assert box.leased_elsewhere("t", "second")[0] == 2
    time.sleep(0.6)
    assert box.renew("first", lease=1.0) == 2  # still working: the lease goes on
    time.sleep(0.6)
    assert box.claim("t", "second") == []  # 1.2 s after the claim, but renewed 0.6 s ago
    time.sleep(0.6)
    assert len(box.claim("t", "second")) == 2  # the first stopped renewing: its items came back
    assert box.leased_elsewhere("t", "second")[0] == 0


def test_a_killed_flushers_items_come_back_when_its_lease_ends_and_are_sent_once(tmp_path, outbox_url):
    """kill -9 mid-flush, the outbox on PostgreSQL: while the flusher lives its renewals keep its items past the
    lease; once killed, the next flush says they are leased and until when; after the lease they are sent once."""
    settings = ConnectionSettings(backend="local", local_db=str(tmp_path / "itsm.sqlite"), username="t")
    box = ob.Outbox(outbox_url)
    target = ob.target_of(settings)
    box.put([incident(attempt=f"a{n}") for n in range(5)], target)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    flusher = subprocess.Popen([sys.executable, "-c", _STUCK_FLUSHER, outbox_url, settings.local_db, target], env=env)
    backend = build_backend(settings)
    try:
        deadline = time.monotonic() + 30
        while not box.list(("delivered",)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(box.list(("delivered",))) == 1
        time.sleep(2.0)  # longer than its 1.5 s lease: only the renewal keeps the items its own
        working = ob.flush(box, backend, target, lambda message: None)
        assert working["delivered"] == [] and working["leased"] == 4 and working["remaining"] == 4
        os.kill(flusher.pid, signal.SIGKILL)
        flusher.wait()
        warnings: list[str] = []
        report = ob.flush(box, backend, target, warnings.append)
        assert report["delivered"] == [] and report["leased"] == 4 and report["leased_until"]
        assert any(f"4 items in {box.path} are leased by another flush until" in message for message in warnings)
        assert outbox_url.split("@")[0].split(":")[-1] not in "".join(warnings)  # the URL's password
        time.sleep(2.0)  # the dead flusher's lease ends within 1.5 s of its last renewal
        report = ob.flush(box, backend, target, print)
        assert len(report["delivered"]) == 4 and report["leased"] == 0
        assert ob.flush(box, backend, target, print)["delivered"] == []
        assert all(item["attempts"] == 1 for item in box.list(("delivered",)))
    finally:
        if flusher.poll() is None:
            flusher.kill()
            flusher.wait()
        backend.close()


def test_the_items_table_outlives_every_connection(outbox_url):
    """What a job queued is there for the next job's process: a plain client reads it after the writer is gone."""
    ob.Outbox(outbox_url).put([incident()], "servicenow:https://x")
    with psycopg.connect(outbox_url, autocommit=True) as conn:
        assert conn.execute("SELECT type, state FROM outbox_items").fetchall() == [("incident", "pending")]
