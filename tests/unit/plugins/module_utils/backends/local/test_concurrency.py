# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many forked processes writing one local store at once, as Ansible's forked workers (and several controllers or
AWX job pods, on PostgreSQL) do: every test runs on an SQLite file and on a PostgreSQL server (issue 18)."""

from __future__ import annotations

import multiprocessing
import sqlite3

import psycopg
import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from tests.unit.plugins.module_utils.backends import pg_sim
from tests.unit.plugins.module_utils.backends.forks import run_workers

PROCESSES = 50
RECORDS_EACH = 3
SHARED = "play-7:task-3:failure"
WAIT = 120  # seconds; a guard against a hang, never reached when things work

_fork = multiprocessing.get_context("fork")


# What a worker may meet from the database itself (never expected: each is reported as an error).
DRIVER_ERRORS = (sqlite3.Error, psycopg.Error)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_path(request, tmp_path) -> str:
    """The ``local_db`` of a new store: an SQLite file, or a fresh schema on the session's PostgreSQL server."""
    return str(tmp_path / "store" / "itsm.sqlite") if request.param == "sqlite" else pg_sim.new_store()


def _backend(path: str, who: str) -> LocalBackend:
    return LocalBackend(ConnectionSettings(local_db=path, username=who, timeout=60, password=pg_sim.PASSWORD))


def _run(target, args_for) -> list[dict]:
    """Start PROCESSES workers that wait at one barrier, and collect one outcome from each."""
    barrier = _fork.Barrier(PROCESSES)
    results = _fork.Queue()
    workers = [_fork.Process(target=target, args=args_for(index) + (index, barrier, results))
               for index in range(PROCESSES)]
    outcomes = run_workers(workers, results, WAIT)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    assert len(outcomes) == PROCESSES
    return sorted(outcomes, key=lambda outcome: outcome["index"])


def _get_then_create(backend: LocalBackend, kind: str) -> str:
    found = backend.get(kind, correlation_id=SHARED, open_only=True)
    return (found or backend.create(kind, {"short_description": "shared", "correlation_id": SHARED}))["number"]


def _writer(path, index, barrier, results):
    outcome = {"index": index, "errors": [], "changes": [], "incidents": [], "shared": []}
    try:
        backend = _backend(path, f"worker{index}")
        barrier.wait(timeout=WAIT)
        if index % 2 == 0:
            outcome["shared"].append(_get_then_create(backend, "incident"))
            outcome["shared"].append(_get_then_create(backend, "change"))
        for number in range(RECORDS_EACH):
            fields = {"short_description": f"worker {index} record {number}", "work_notes": "from a fork"}
            change = backend.create("change", dict(fields, configuration_items=[f"h{index}"]))
            outcome["changes"].append(change["number"])
            outcome["incidents"].append(backend.create("incident", fields)["number"])
    except (ItsmError, *DRIVER_ERRORS) as exc:
        outcome["errors"].append(f"{type(exc).__name__}: {exc}")
    results.put(outcome)


def test_many_forked_writers_lose_nothing_and_never_see_a_locked_database(db_path):
    outcomes = _run(_writer, lambda index: (db_path,))

    errors = [error for outcome in outcomes for error in outcome["errors"]]
    assert errors == []
    backend = _backend(db_path, "checker")
    changes = list(backend.find("change", {}))
    incidents = list(backend.find("incident", {}))
    total = PROCESSES * RECORDS_EACH + 1
    for kind, prefix, found in (("changes", "CHG", changes), ("incidents", "INC", incidents)):
        numbers = [record["number"] for record in found]
        assert sorted(numbers) == [f"{prefix}{n:07d}" for n in range(1, total + 1)]  # unique and gapless
        reported = {number for outcome in outcomes for number in outcome[kind]}
        assert len(reported) == PROCESSES * RECORDS_EACH and reported <= set(numbers)
    shared = [record["number"] for record in changes + incidents if record["correlation_id"] == SHARED]
    assert len(shared) == 2  # exactly one change and one incident
    assert {number for outcome in outcomes for number in outcome["shared"]} == set(shared)
    # Each write's journal entries landed with its record, by its own process.
    by_worker = [change for change in changes if change["configuration_items"] == ["h5"]]
    assert [backend.journal("change", change)[0]["author"] for change in by_worker] == ["worker5"] * RECORDS_EACH
    assert all(record["state"] == "new" and record["active"] for record in changes + incidents)


def _approver(path, change, index, barrier, results):
    outcome = {"index": index, "errors": [], "state": None}
    try:
        backend = _backend(path, f"approver{index}")
        barrier.wait(timeout=WAIT)
        outcome["state"] = backend.decide_approval(change, f"approver{index}", "approved", None)["state"]
    except (ItsmError, *DRIVER_ERRORS) as exc:
        outcome["errors"].append(f"{type(exc).__name__}: {exc}")
    results.put(outcome)


def test_racing_approvers_move_a_change_one_stage_only(db_path):
    backend = _backend(db_path, "requester")
    change = backend.create("change", {"short_description": "s", "assignment_group": "ops"})
    change = backend.transition("change", change, "assess")
    backend.close()

    outcomes = _run(_approver, lambda index: (db_path, change))

    winners = [outcome for outcome in outcomes if not outcome["errors"]]
    losers = [outcome["errors"][0] for outcome in outcomes if outcome["errors"]]
    assert len(winners) == 1 and winners[0]["state"] == "authorize"
    assert all(error.startswith("ItsmTransitionError: ") and "moved on from assess" in error for error in losers)
    assert len(losers) == PROCESSES - 1
    stored = _backend(db_path, "checker").get("change", id=change["id"])
    assert (stored["state"], stored["approval"]) == ("authorize", "requested")
    assert len(_backend(db_path, "checker").approvals(change)) == 1


def _inherited(backend, index, barrier, results):
    outcome = {"index": index, "errors": [], "number": None}
    try:
        barrier.wait(timeout=WAIT)
        outcome["number"] = backend.create("incident", {"short_description": f"child {index}"})["number"]
    except (ItsmError, *DRIVER_ERRORS) as exc:
        outcome["errors"].append(f"{type(exc).__name__}: {exc}")
    results.put(outcome)


def test_a_backend_opened_before_the_fork_still_works_in_the_children_and_the_parent(db_path):
    backend = _backend(db_path, "parent")
    backend.create("incident", {"short_description": "parent before"})

    outcomes = _run(_inherited, lambda index: (backend,))
    after = backend.create("incident", {"short_description": "parent after"})

    assert [error for outcome in outcomes for error in outcome["errors"]] == []
    assert after["number"] == f"INC{PROCESSES + 2:07d}"
    assert len(list(backend.find("incident", {}))) == PROCESSES + 2
