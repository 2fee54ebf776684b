"""The outbox: idempotent delivery (a lost reply re-sent writes nothing twice) and exactly-once flushing; every test
with a local store runs on an SQLite file and on a PostgreSQL server (issue 18)."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as ob
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as rec
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransientError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from tests.unit.plugins.module_utils.backends import pg_sim
from tests.unit.plugins.module_utils.transport_errors import REFUSED, SECRET, WAITING, Raising, error_id


@pytest.fixture(params=["sqlite", "postgresql"])
def local_db(request, tmp_path) -> str:
    """The ``local_db`` of a new store: an SQLite file, or a fresh schema on the session's PostgreSQL server."""
    return str(tmp_path / "itsm.sqlite") if request.param == "sqlite" else pg_sim.new_store()


@pytest.fixture
def local_backend(local_db):
    """The recorder's backend on ``local_db`` (this file's own, over tests/unit/conftest.py's SQLite-only one)."""
    backend = build_backend(ConnectionSettings(backend="local", local_db=local_db, username="tester",
                                               password=pg_sim.PASSWORD))
    yield backend
    backend.close()


def run(attempt="a1", **extra):
    return rec.Run(run_id="job-1", attempt=attempt, playbook="site.yml", **extra)


def incident(attempt="a1", change=None):
    failure = rec.Failure(playbook="site.yml", play="Web", hosts="web", task="Deploy", host="web1", message="boom")
    return rec.incident_items([failure], rec.Settings(), rec.MARKER_PREFIX + attempt, "run job-1",
                              change or {"correlation_id": run().correlation_id})[0]


def notes(backend, kind, record):
    return [entry["text"] for entry in backend.journal(kind, record)]


def test_a_change_item_sent_twice_makes_one_change_and_one_note(local_backend):
    item = rec.change_item(run(), note="recap [x]", code="successful")
    first = ob.deliver(local_backend, item, print)
    second = ob.deliver(local_backend, item, print)
    changes = list(local_backend.find("change", {}))
    assert len(changes) == 1 and first["number"] == second["number"]
    assert changes[0]["state"] == "closed" and changes[0]["close_code"] == "successful"
    assert notes(local_backend, "change", changes[0]).count("recap [x]") == 1


def test_the_start_item_opens_the_change_in_implement_and_the_end_item_closes_it(local_backend):
    started = ob.deliver(local_backend, rec.change_item(run()), print)
    assert started["state"] == "implement" and started["outcome"] == "created"
    ended = ob.deliver(local_backend, rec.change_item(run(), note="n", code="unsuccessful"), print)
    assert ended["number"] == started["number"] and ended["state"] == "closed"


def test_an_end_item_resent_after_a_later_attempts_change_finds_its_own_closed_change(local_backend):
    # The outbox delivers late: attempt a1's end was sent (its change closed) but not confirmed, attempt a2 then ran
    # and closed a change of its own; a1's end, sent again, finds a1's change by its marker, not the newest one.
    end_a1 = rec.change_item(run("a1"), note="recap a1", code="successful")
    first = ob.deliver(local_backend, end_a1, print)
    later = ob.deliver(local_backend, rec.change_item(run("a2"), note="recap a2", code="successful"), print)

    again = ob.deliver(local_backend, end_a1, print)

    assert later["number"] != first["number"]
    assert again["number"] == first["number"] and again["outcome"] == "closed successful"
    assert len(list(local_backend.find("change", {}))) == 2


def test_a_restarted_job_reuses_its_open_change(local_backend):
    first = ob.deliver(local_backend, rec.change_item(run("a1")), print)
    restarted = ob.deliver(local_backend, rec.change_item(run("a2")), print)
    assert restarted["number"] == first["number"] and restarted["outcome"] == "found"


def test_review_end_state_leaves_the_change_for_a_person(local_backend):
    result = ob.deliver(local_backend, rec.change_item(run(end_state="review"), note="n", code="successful"), print)
    assert result["state"] == "review"


def test_an_incident_resent_after_a_lost_reply_is_not_a_recurrence(local_backend):
    assert ob.deliver(local_backend, incident(), print)["outcome"] == "created"
    assert ob.deliver(local_backend, incident(), print)["outcome"] == "unchanged"
    [record] = list(local_backend.find("incident", {}))
    assert notes(local_backend, "incident", record) == []


def test_the_same_failure_in_a_later_run_adds_one_recurrence_note(local_backend):
    ob.deliver(local_backend, rec.change_item(run()), print)
    created = ob.deliver(local_backend, incident("a1"), print)
    recurred = ob.deliver(local_backend, incident("a2"), print)
    ob.deliver(local_backend, incident("a2"), print)
    [record] = list(local_backend.find("incident", {}))
    assert recurred == dict(type="incident", number=created["number"], outcome="recurred")
    assert record["caused_by"] == "CHG0000001"
    texts = notes(local_backend, "incident", record)
    assert len(texts) == 1 and texts[0].startswith("Recurrence #2: ")


def test_a_delivery_whose_create_meets_another_runs_incident_counts_a_recurrence(local_backend, monkeypatch):
    # Two runs deliver the same failure at once: a2 reads the holders before a1's create commits, then creates.
    created = ob.deliver(local_backend, incident("a1"), print)
    monkeypatch.setattr(ob.workflow, "records_holding", lambda backend, kind, cid: [])

    met = ob.deliver(local_backend, incident("a2"), print)
    again = ob.deliver(local_backend, incident("a2"), print)  # the same delivery retried: counted once

    assert met == dict(type="incident", number=created["number"], outcome="recurred")
    assert again == dict(type="incident", number=created["number"], outcome="unchanged")
    [record] = list(local_backend.find("incident", {}))
    texts = notes(local_backend, "incident", record)
    assert len(texts) == 1 and texts[0].startswith("Recurrence #2: ")


def test_recurrences_are_counted_as_the_incident_module_counts_them_work_notes_only(local_backend):
    # Issue 16: one recurrence count. A comment that happens to start like a recurrence note is not one.
    created = ob.deliver(local_backend, incident("a1"), print)
    record = local_backend.get("incident", number=created["number"])
    local_backend.add_journal("incident", record, "comments", "Recurrence #1 of the outage, says the caller")

    ob.deliver(local_backend, incident("a2"), print)

    work_notes = [entry["text"] for entry in local_backend.journal("incident", record) if entry["field"] == "work_notes"]
    assert len(work_notes) == 1 and work_notes[0].startswith("Recurrence #2: ")


def test_an_incident_is_caused_by_the_newest_change_holding_the_runs_id_when_none_is_open(local_backend):
    # Issue 16: the one look-up rule (the open holder, else the newest), not "none" when two settled changes
    # share the run's correlation id (a job re-run after its first change was closed).
    cid = run().correlation_id
    for _attempt in range(2):
        change = local_backend.create("change", {"short_description": "run", "correlation_id": cid})
        local_backend.transition("change", change, "canceled")

    created = ob.deliver(local_backend, incident(), print)

    assert local_backend.get("incident", number=created["number"])["caused_by"] == change["number"]


def test_resolve_closes_the_open_incident_once(local_backend):
    ob.deliver(local_backend, incident(), print)
    item = dict(type="resolve", id="r", marker="m", correlation_id=incident()["correlation_id"], close_notes="ok")
    assert ob.deliver(local_backend, item, print)["outcome"] == "resolved"
    assert ob.deliver(local_backend, item, print)["outcome"] == "unchanged"
    assert [r["state"] for r in local_backend.find("incident", {})] == ["resolved"]


class Down:
    """A backend that is unreachable."""

    name = "local"
    settings = ConnectionSettings(backend="local", password="hunter2-secret")

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ItsmTransientError("the backend is down")
        return fail


def test_put_ignores_an_item_already_queued(tmp_path):
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    item = incident()
    assert box.put([item], "t") == 1
    assert box.put([item], "t") == 0
    assert [entry["id"] for entry in box.list()] == [item["id"]]


def test_reading_a_missing_outbox_creates_nothing(tmp_path):
    box = ob.Outbox(str(tmp_path / "none.sqlite"))
    assert box.list() == [] and box.purge() == []
    assert not (tmp_path / "none.sqlite").exists()


def test_flush_stops_at_an_outage_and_later_delivers_each_item_exactly_once(tmp_path, local_backend):
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    target = ob.target_of(local_backend.settings)
    items = [rec.change_item(run(), note="recap", code="unsuccessful"), incident()]
    box.put(items, target)
    report = ob.flush(box, Down(), target, print)
    assert report["outage"] == "the backend is down" and report["remaining"] == 2 and report["delivered"] == []
    report = ob.flush(box, local_backend, target, print)
    assert [entry["type"] for entry in report["delivered"]] == ["change", "incident"] and report["remaining"] == 0
    assert ob.flush(box, local_backend, target, print)["delivered"] == []
    assert len(list(local_backend.find("change", {}))) == 1
    [record] = list(local_backend.find("incident", {}))
    assert record["caused_by"] == "CHG0000001"


def test_flush_only_sends_items_meant_for_this_backend(tmp_path, local_backend):
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    box.put([incident()], "servicenow:https://example.service-now.com")
    assert ob.flush(box, local_backend, ob.target_of(local_backend.settings), print)["delivered"] == []
    assert len(box.list(("pending",))) == 1


def test_a_refused_item_is_kept_as_failed_and_retried_on_request(tmp_path, local_backend):
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    target = ob.target_of(local_backend.settings)
    box.put([rec.change_item(run(change_number="CHG0000099"), note="n", code="successful")], target)
    warnings = []
    report = ob.flush(box, local_backend, target, warnings.append)
    assert report["refused"] and "CHG0000099 does not exist" in warnings[0]
    assert box.list(("failed",))[0]["last_error"].startswith("change: CHG0000099")
    assert ob.flush(box, local_backend, target, print)["refused"] == []
    assert len(ob.flush(box, local_backend, target, print, retry_failed=True)["refused"]) == 1


def test_two_flushers_at_once_deliver_each_item_once(tmp_path, local_db):
    settings = ConnectionSettings(local_db=local_db, username="t", password=pg_sim.PASSWORD)
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    target = ob.target_of(settings)
    box.put([incident(attempt=f"a{n}") for n in range(6)], target)
    reports = []

    def flusher():
        backend = build_backend(settings)
        reports.append(ob.flush(ob.Outbox(box.path), backend, target, print))
        backend.close()

    threads = [threading.Thread(target=flusher) for _unused in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    delivered = [entry["id"] for report in reports for entry in report["delivered"]]
    assert sorted(delivered) == sorted(set(delivered)) and len(delivered) == 6
    backend = build_backend(settings)
    [record] = list(backend.find("incident", {}))
    assert len(backend.journal("incident", record)) == 5


def test_purge_removes_delivered_items_or_the_ids_given(tmp_path, local_backend):
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    target = ob.target_of(local_backend.settings)
    box.put([incident("a1"), incident("a2")], target)
    ob.flush(box, local_backend, target, print)
    box.put([incident("a3")], target)
    assert len(box.purge(check_mode=True)) == 2 and len(box.list(("delivered",))) == 2
    assert len(box.purge()) == 2
    assert box.purge(ids=[incident("a3")["id"]]) == [incident("a3")["id"]]
    assert box.list(("pending", "delivered", "failed")) == []


def test_an_unwritable_outbox_is_a_storage_error_naming_the_path(tmp_path):
    (tmp_path / "file").write_text("x")
    box = ob.Outbox(str(tmp_path / "file" / "outbox.sqlite"))
    with pytest.raises(ob.ItsmStorageError, match="outbox: .*file/outbox.sqlite"):
        box.put([incident()], "t")


# -- no item is lost, whatever a send raises; a permanent refusal says so (issue 12) -----------------------

def _queued_box(tmp_path):
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    target = ob.target_of(Raising.settings)
    items = [rec.change_item(run(), note="recap", code="unsuccessful"), incident()]
    box.put(items, target)
    return box, target, items


@pytest.mark.parametrize("error", WAITING, ids=error_id)
def test_whatever_a_send_raises_about_the_connection_the_items_stay_pending_with_the_reason(tmp_path, error):
    box, target, items = _queued_box(tmp_path)
    warnings = []

    report = ob.flush(box, Raising(error), target, warnings.append)

    queued = box.list(("pending", "failed", "delivered"))
    assert [(item["id"], item["state"], item["permanent"]) for item in queued] == [
        (items[0]["id"], "pending", False), (items[1]["id"], "pending", False)]
    assert report["outage"] == queued[0]["last_error"] and report["remaining"] == 2 and report["refused"] == []
    assert str(error).strip("'").split(f" {SECRET}", maxsplit=1)[0] in queued[0]["last_error"]
    assert SECRET not in queued[0]["last_error"]
    assert queued[1]["last_error"] is None  # never tried: the flush stopped at the first


@pytest.mark.parametrize("error", REFUSED, ids=error_id)
def test_an_item_the_backend_refuses_for_good_is_kept_failed_marked_permanent_with_the_reason(tmp_path, error):
    box, target, items = _queued_box(tmp_path)
    warnings = []

    report = ob.flush(box, Raising(error), target, warnings.append)

    queued = box.list(("pending", "failed", "delivered"))
    assert [(item["state"], item["permanent"], item["last_error"]) for item in queued] == [
        ("failed", True, error.message)] * 2
    assert report["permanent_failures"] == 2 and len(report["refused"]) == 2 and report["remaining"] == 0
    assert warnings[0].startswith("outbox: the servicenow backend refused the end of the run's change (")
    assert "for good" in warnings[0] and error.message in warnings[0]


def test_an_item_refused_earlier_is_not_resent_but_every_flush_says_why_it_waits(tmp_path, local_backend):
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    target = ob.target_of(local_backend.settings)
    box.put([rec.change_item(run(change_number="CHG9999999"), note="n", code="successful")], target)
    ob.flush(box, local_backend, target, print)
    warnings = []

    report = ob.flush(box, local_backend, target, warnings.append)

    assert report["refused"] == [] and report["permanent_failures"] == 1
    [warning] = warnings
    assert warning.startswith(f"outbox: 1 item in {box.path} was refused for good by the local backend")
    assert "the end of change CHG9999999: change: CHG9999999 does not exist on the local backend (local:" in warning
    assert "retry_failed" in warning and "states=[failed]" in warning
    [item] = box.list()
    assert item["attempts"] == 1 and item["permanent"] and item["description"] == "the end of change CHG9999999"


@pytest.mark.parametrize("end_state, code, outcome", [
    ("closed", "unsuccessful", "closed unsuccessful"), ("closed", "successful", "closed successful"),
    ("closed", "successful_issues", "closed successful_issues"), ("review", "successful", "moved to review")])
def test_the_end_of_the_run_says_what_happened_to_the_change(local_backend, end_state, code, outcome):
    started = ob.deliver(local_backend, rec.change_item(run(end_state=end_state)), print)
    ended = ob.deliver(local_backend, rec.change_item(run(end_state=end_state), note="n", code=code), print)
    assert (started["outcome"], ended["outcome"]) == ("created", outcome)


def test_an_end_that_creates_the_change_says_so_and_a_change_the_model_keeps_says_where_it_stays(local_backend):
    created = ob.deliver(local_backend, rec.change_item(run(), note="n", code="unsuccessful"), print)
    assert created["outcome"] == "created and closed unsuccessful"
    normal = local_backend.create("change", {"type": "normal", "short_description": "Needs a CAB"})
    warnings = []
    kept = ob.deliver(local_backend, rec.change_item(run("a2", change_number=normal["number"]), note="n",
                                                     code="successful"), warnings.append)
    assert kept["outcome"] == f"left in {kept['state']}" and kept["state"] != "closed" and warnings


# -- file modes (issue 14 item 5) -------------------------------------------------------------------

def test_the_outbox_file_its_wal_and_its_directory_are_private_whatever_the_umask(tmp_path):
    path = tmp_path / "private" / "outbox.sqlite"
    previous = os.umask(0o022)
    try:
        box = ob.Outbox(str(path))
        box.put([incident()], "local:x")
        with sqlite3.connect(str(path)) as conn:  # keeps the -wal and -shm while we look
            conn.execute("SELECT count(*) FROM items").fetchone()
            modes = {name: os.stat(str(path) + name).st_mode & 0o777 for name in ("", "-wal", "-shm")
                     if os.path.exists(str(path) + name)}
    finally:
        os.umask(previous)
    assert set(modes) == {"", "-wal", "-shm"} and set(modes.values()) == {0o600}
    assert os.stat(str(path.parent)).st_mode & 0o777 == 0o700


def test_an_outbox_readable_by_others_is_warned_of_once(tmp_path):
    path = tmp_path / "outbox.sqlite"
    ob.Outbox(str(path)).put([incident()], "local:x")
    os.chmod(str(path), 0o604)
    warnings = []
    box = ob.Outbox(str(path), warn=warnings.append)
    box.list()
    box.list()
    assert len([message for message in warnings if f"{path} is readable by other users" in message]) == 1


# -- leases (issue 14 item 6) ------------------------------------------------------------------------

_STUCK_FLUSHER = """
import sys, time
from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as ob
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
ob.LEASE_SECONDS, ob.RENEW_SECONDS = 1.5, 0.3
real, sent = ob.deliver, []
def deliver(backend, item, warn):
    if sent:
        time.sleep(3600)  # a delivery that hangs: the parent kills this process meanwhile
    sent.append(item["id"])
    return real(backend, item, warn)
ob.deliver = deliver
backend = build_backend(ConnectionSettings(local_db=sys.argv[2], username="t"))
ob.flush(ob.Outbox(sys.argv[1]), backend, sys.argv[3], print)
"""


def test_a_killed_flush_says_its_items_are_leased_and_gives_them_back_soon(tmp_path):
    """After kill -9 mid-flush the next flush said only remaining=7; the items waited 300 s. Now: a flush that works
    keeps its lease past LEASE_SECONDS by renewing it, the next flush says how many are leased and until when,
    and once the dead flush's short lease ends every item is delivered exactly once."""
    settings = ConnectionSettings(backend="local", local_db=str(tmp_path / "itsm.sqlite"), username="t")
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    target = ob.target_of(settings)
    box.put([incident(attempt=f"a{n}") for n in range(7)], target)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    flusher = subprocess.Popen([sys.executable, "-c", _STUCK_FLUSHER, box.path, settings.local_db, target], env=env)
    backend = build_backend(settings)
    try:
        deadline = time.monotonic() + 30
        while not box.list(("delivered",)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(box.list(("delivered",))) == 1
        time.sleep(2.0)  # longer than its 1.5 s lease: only the renewal keeps the items its own
        warnings: list[str] = []
        working = ob.flush(box, backend, target, warnings.append)
        assert working["delivered"] == [] and working["leased"] == 6 and working["remaining"] == 6
        os.kill(flusher.pid, signal.SIGKILL)
        flusher.wait()
        warnings.clear()
        report = ob.flush(box, backend, target, warnings.append)
        assert report["delivered"] == [] and report["leased"] == 6 and report["leased_until"]
        assert any(f"6 items in {box.path} are leased by another flush until {report['leased_until']}" in message
                   for message in warnings)
        assert all(item["leased_until"] for item in box.list(("pending",)))
        time.sleep(2.0)  # the dead flusher's lease ends within 1.5 s of its last renewal
        report = ob.flush(box, backend, target, print)
        assert len(report["delivered"]) == 6 and report["leased"] == 0 and report["leased_until"] is None
        assert ob.flush(box, backend, target, print)["delivered"] == []
        assert len(list(backend.find("incident", {}))) == 1
    finally:
        if flusher.poll() is None:
            flusher.kill()
            flusher.wait()
        backend.close()


def test_the_lease_is_short():
    assert ob.LEASE_SECONDS <= 60 and ob.RENEW_SECONDS < ob.LEASE_SECONDS / 2
