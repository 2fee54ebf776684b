# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recurrence numbers under concurrency (issue 14, item 7): WRITERS writers that record a recurrence of one incident
at the same moment get the numbers 2..WRITERS+1, each once, and the journal carries exactly those notes.

local: forked processes, each with its own connection, on an SQLite file and on a PostgreSQL server. servicenow
and jsm (whose writers take turns on one controller): threads, each with its own backend (HTTP session), on the
real simulator (a separate process serving them at once). Every writer waits at one barrier, so the reads that once numbered the notes happen together."""

from __future__ import annotations

import collections
import multiprocessing
import threading
import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from tests.unit.plugins.module_utils.backends import jsm_sim, pg_sim, sn_sim
from tests.unit.plugins.module_utils.backends.forks import run_workers

WRITERS = 20
WAIT = 120  # seconds; a guard against a hang, never reached when things work
TEXT = "the failure with correlation id {cid} happened again (writer {index})."

_fork = multiprocessing.get_context("fork")


def _numbers_of(notes: list[str]) -> list[int]:
    return sorted(int(note.split(":", 1)[0].removeprefix("Recurrence #")) for note in notes)


def _recurrence_notes(backend, record) -> list[str]:
    return [entry["text"] for entry in backend.journal("incident", record)
            if entry["field"] == "work_notes" and entry["text"].startswith("Recurrence #")]


def _assert_exact(outcomes: list[dict], notes: list[str]) -> None:
    assert [outcome["error"] for outcome in outcomes if outcome["error"]] == []
    numbers = sorted(outcome["number"] for outcome in outcomes)
    repeated = {number: n for number, n in collections.Counter(numbers).items() if n > 1}
    assert repeated == {}, f"numbers given to more than one writer: {repeated}"
    assert numbers == list(range(2, WRITERS + 2))  # each once, no gap
    assert _numbers_of(notes) == numbers  # the journal says the same, one note each
    assert sorted(note.split(": ", 1)[1] for note in notes) == sorted(outcome["text"] for outcome in outcomes)


# -- local: forked processes ---------------------------------------------------------------------------

def _local(path: str, who: str) -> LocalBackend:
    return LocalBackend(ConnectionSettings(local_db=path, username=who, timeout=60, password=pg_sim.PASSWORD))


def _local_writer(path, record, index, barrier, results):
    text = TEXT.format(cid=record["correlation_id"], index=index)
    outcome = {"index": index, "error": None, "number": None, "text": text}
    try:
        backend = _local(path, f"fork{index}")
        barrier.wait(timeout=WAIT)
        outcome["number"] = backend.record_recurrence(record, text).number
    except ItsmError as exc:
        outcome["error"] = f"{type(exc).__name__}: {exc}"
    results.put(outcome)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_concurrent_processes_number_the_recurrences_of_one_incident_once_each_on_local(database, tmp_path):
    path = str(tmp_path / "store" / "itsm.sqlite") if database == "sqlite" else pg_sim.new_store()
    owner = _local(path, "owner")
    record = owner.create("incident", {"short_description": "web tier down", "correlation_id": "web-tier-down"})
    owner.close()

    barrier, results = _fork.Barrier(WRITERS), _fork.Queue()
    workers = [_fork.Process(target=_local_writer, args=(path, record, index, barrier, results))
               for index in range(WRITERS)]
    outcomes = run_workers(workers, results, WAIT)
    assert [worker.exitcode for worker in workers] == [0] * WRITERS
    assert len(outcomes) == WRITERS

    _assert_exact(outcomes, _recurrence_notes(_local(path, "checker"), record))


# -- remote backends: threads against the simulators ----------------------------------------------------------

@pytest.mark.parametrize("name", ["servicenow", "jsm-cloud", "jsm-datacenter"])
def test_concurrent_writers_number_the_recurrences_of_one_incident_once_each_on_a_remote_backend(name, tmp_path):
    factory = sn_sim.contract_backend if name == "servicenow" else jsm_sim.contract_backend(name.split("-")[1])
    owner = factory(tmp_path)
    record = owner.create("incident", {"short_description": "web tier down",
                                       "correlation_id": f"web-tier-{uuid.uuid4().hex[:8]}"})
    backends = [factory(tmp_path) for _index in range(WRITERS)]
    barrier = threading.Barrier(WRITERS)
    outcomes: list[dict] = []

    def writer(index: int) -> None:
        text = TEXT.format(cid=record["correlation_id"], index=index)
        outcome = {"index": index, "error": None, "number": None, "text": text}
        try:
            barrier.wait(timeout=WAIT)
            outcome["number"] = backends[index].record_recurrence(record, text).number
        except ItsmError as exc:
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        outcomes.append(outcome)

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    for backend in backends:
        backend.close()
    assert len(outcomes) == WRITERS

    if name.startswith("jsm"):  # notes at a bounded rate (jsm/recurrence.py): the counter holds every number
        outcomes_numbers = sorted(outcome["number"] for outcome in outcomes if outcome["number"])
        assert [outcome["error"] for outcome in outcomes if outcome["error"]] == []
        assert outcomes_numbers == list(range(2, WRITERS + 2))
    else:
        _assert_exact(outcomes, _recurrence_notes(owner, record))
    owner.close()
