# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The soak on ``local`` (issue 14, "What make soak proves"), on an SQLite file and on a PostgreSQL server.

- Concurrent processes, each running incident and change tasks as the action plugins do (the runners inside
  ``backend.task()``): create, update, transition and note on ids of their own, and one incident on an id they all
  share: every record present, numbers unique and gapless, one record for the shared id whose recurrence notes are
  numbered 2..N+1 for the N recurrences the tasks reported, each once, every journal complete, no task failed ("locked" or any other error).
- kill -9 rounds during multi-step tasks: the database's integrity check passes and each task is all done or not
  begun.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings, connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request, incident
from tests.soak.conftest import figure, size
from tests.unit.plugins.module_utils.backends import pg_sim
from tests.unit.plugins.module_utils.backends.forks import run_workers
# change_request tasks one after another, several writes each, every write a little slow: kills land inside tasks
from tests.unit.plugins.module_utils.backends.local.test_task_transaction import _TASKS

WAIT = 300  # seconds; a guard against a hang
_fork = multiprocessing.get_context("fork")


@pytest.fixture(params=["sqlite", "postgresql"])
def local_db(request, tmp_path) -> str:
    return str(tmp_path / "itsm.sqlite") if request.param == "sqlite" else pg_sim.new_store()


def _backend(local_db: str, who: str) -> LocalBackend:
    return LocalBackend(ConnectionSettings(local_db=local_db, username=who, timeout=60, password=pg_sim.PASSWORD))


def _task(backend, runner, **args) -> dict:
    """One task as the action plugin runs it: the options validated, the runner inside the backend's task."""
    spec = dict(connection_argument_spec(), **runner.ARGUMENT_SPEC)
    params = ArgumentSpecValidator(spec).validate(args).validated_parameters
    with backend.task():
        return runner.run(params, backend, check_mode=False, warn=lambda text: None)


def _worker(local_db, run, index, barrier, results):
    outcome = {"index": index, "errors": [], "tasks": 0}
    try:
        backend = _backend(local_db, f"p{index}")
        own = f"soak-{run}-p{index}"
        barrier.wait(timeout=WAIT)
        steps = (
            (incident, dict(correlation_id=own, short_description=f"p{index} down", work_notes=f"created by p{index}")),
            (incident, dict(correlation_id=own, short_description=f"p{index} still down", state="in_progress",
                            recurrence_note=False, work_notes=f"moved by p{index}")),
            (incident, dict(correlation_id=f"soak-{run}-shared", short_description="shared failure")),
            (change_request, dict(correlation_id=own, short_description=f"p{index} deploy", type="standard",
                                  state="implement", work_notes=f"change of p{index}")),
        )
        for runner, args in steps:
            try:
                result = _task(backend, runner, **args)
                outcome["tasks"] += 1
                outcome["recurred"] = outcome.get("recurred", 0) + bool(result.get("recurred"))
            except Exception as error:  # pylint: disable=broad-except  # every failure is what the soak counts
                outcome["errors"].append(f"{type(error).__name__}: {error}")
        backend.close()
    except Exception as error:  # pylint: disable=broad-except
        outcome["errors"].append(f"{type(error).__name__}: {error}")
    results.put(outcome)


def test_concurrent_processes_lose_nothing_double_nothing_and_never_see_a_locked_store(local_db, request):
    processes = size().processes
    database = request.node.callspec.params["local_db"]
    run = uuid.uuid4().hex[:8]
    barrier, results = _fork.Barrier(processes), _fork.Queue()
    workers = [_fork.Process(target=_worker, args=(local_db, run, index, barrier, results))
               for index in range(processes)]
    started = time.monotonic()
    outcomes = run_workers(workers, results, WAIT)
    seconds = time.monotonic() - started

    errors = [error for outcome in outcomes for error in outcome["errors"]]
    locked = [error for error in errors if "locked" in error]
    backend = _backend(local_db, "checker")
    incidents = list(backend.find("incident", {}))
    changes = list(backend.find("change", {}))
    shared = [record for record in incidents if record["correlation_id"] == f"soak-{run}-shared"]
    recurrences = [entry["text"] for record in shared for entry in backend.journal("incident", record)
                   if entry["text"].startswith("Recurrence #")]
    numbers = collections.Counter(int(text.split(":")[0].removeprefix("Recurrence #")) for text in recurrences)
    incomplete = []
    for record in incidents:
        if record in shared:
            continue
        index = record["correlation_id"].rsplit("-p", 1)[1]
        notes = [entry["text"] for entry in backend.journal("incident", record)]
        if (record["state"], record["short_description"], notes) != (
                "in_progress", f"p{index} still down", [f"created by p{index}", f"moved by p{index}"]):
            incomplete.append(record["correlation_id"])
    for record in changes:
        index = record["correlation_id"].rsplit("-p", 1)[1]
        if (record["state"], [entry["text"] for entry in backend.journal("change", record)]) != (
                "implement", [f"change of p{index}"]):
            incomplete.append(record["correlation_id"])
    backend.close()
    section = f"local {database}"
    figure(section, "concurrent processes x tasks each", f"{processes} x 4")
    figure(section, "wall time (s)", f"{seconds:.1f}")
    figure(section, "failed tasks (of which 'locked')", f"{len(errors)} ({len(locked)})")
    figure(section, "incidents / changes (expected)", f"{len(incidents)} / {len(changes)} ({processes + 1} / {processes})")
    figure(section, "records for the shared id", len(shared))
    recurred = sum(outcome.get("recurred", 0) for outcome in outcomes)
    figure(section, "recurrences reported / numbered / repeated / missing", f"{recurred} / {len(numbers)} / "
           f"{sum(n - 1 for n in numbers.values())} / {len(set(range(2, recurred + 2)) - set(numbers))}")
    # A process whose look-up ran before the shared incident's creator committed creates, and the store's dedup
    # gives it that incident (records.Met): it still counts as a recurrence, so every process but the first does.
    figure(section, "occurrences not counted as a recurrence", processes - 1 - recurred)
    figure(section, "records with a missing or extra note or field", len(incomplete))

    assert [worker.exitcode for worker in workers] == [0] * processes and len(outcomes) == processes
    assert errors == []
    assert sorted(record["number"] for record in incidents) == [f"INC{n:07d}" for n in range(1, processes + 2)]
    assert sorted(record["number"] for record in changes) == [f"CHG{n:07d}" for n in range(1, processes + 1)]
    assert len(shared) == 1
    assert sorted(numbers.elements()) == list(range(2, recurred + 2))  # each number once, no gap
    assert recurred == processes - 1
    assert incomplete == []


# -- kill -9 rounds during multi-step tasks ----------------------------------------------------------------------


def test_kill_9_rounds_during_tasks_leave_a_sound_store_and_no_half_done_task(local_db, request):
    rounds = size().task_kills
    database = request.node.callspec.params["local_db"]
    rng = random.Random(14)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    finished: set[int] = set()
    killed = 0
    for round_number in range(rounds + 7):  # up to 7 more rounds on a machine so slow that no task finished yet
        if round_number >= rounds and finished:
            break
        killed += 1
        process = subprocess.Popen([sys.executable, "-c", _TASKS, local_db, str(round_number * 1000), pg_sim.PASSWORD],
                                   env=env, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.2, 0.8))
        process.kill()  # SIGKILL: no clean-up, no rollback but the database's own
        out, _err = process.communicate()
        finished.update(int(line) for line in out.split() if line.isdigit())
    backend = _backend(local_db, "checker")
    changes = list(backend.find("change", {}))
    half_done = []
    for change in changes:
        number = int(change["correlation_id"].split("-")[1])
        notes = [entry["text"] for entry in backend.journal("change", change)]
        if (change["state"], notes) != ("implement", [f"note of task {number}"]):
            half_done.append(change["correlation_id"])
    reported_missing = finished - {int(change["correlation_id"].split("-")[1]) for change in changes}
    backend.close()
    integrity = "ok"
    if database == "sqlite":
        with sqlite3.connect(local_db) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    section = f"local {database}"
    figure(section, "kill -9 rounds during tasks / tasks done", f"{killed} / {len(changes)}")
    figure(section, "half-done tasks / finished tasks lost", f"{len(half_done)} / {len(reported_missing)}")
    figure(section, "PRAGMA integrity_check" if database == "sqlite" else "integrity (server-side)", integrity)

    assert changes, "no task ran before the kills: nothing was proven"
    assert half_done == [] and not reported_missing and integrity == "ok"
