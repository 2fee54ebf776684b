# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One task's writes are one transaction on local (issue 14 item 8): kill -9 rounds during multi-step tasks leave
every record untouched or fully done, on an SQLite file and on a PostgreSQL server."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransitionError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from tests.unit.plugins.module_utils.backends import pg_sim

# Runs change_request tasks as the action plugin does (backend.task() around run()), one after another: each creates
# a standard change, moves it to implement and adds a work note, several writes. Every write then waits a little, so
# a kill lands between two writes of a task far more often than between two tasks.
_TASKS = """
import sys, time
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings, connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import store as local_store
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_request

write = local_store.LocalStore.write
def slow_write(self, check_mode):
    with write(self, check_mode) as conn:
        yield conn
        time.sleep(0.02)
local_store.LocalStore.write = local_store.contextlib.contextmanager(slow_write)
local_db, first, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
backend = LocalBackend(ConnectionSettings(local_db=local_db, username="killed", password=password))
spec = dict(connection_argument_spec(), **change_request.ARGUMENT_SPEC)
backend.store.connection(create=True)  # created and migrated: the kill window is the tasks' own
print("ready", flush=True)
for number in range(first, first + 1000):
    args = dict(correlation_id=f"kill-{number}", short_description=f"task {number}", type="standard",
                state="implement", work_notes=f"note of task {number}")
    params = ArgumentSpecValidator(spec).validate(args).validated_parameters
    with backend.task():
        change_request.run(params, backend, check_mode=False, warn=print)
    print(number, flush=True)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def local_db(request, tmp_path) -> str:
    return str(tmp_path / "itsm.sqlite") if request.param == "sqlite" else pg_sim.new_store()


def test_kill_9_during_multi_step_tasks_leaves_each_task_all_done_or_not_begun(local_db):
    rng = random.Random(14)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    finished: set[int] = set()
    rounds = 0
    while rounds < 4 or (not finished and rounds < 10):  # 4 kills, more on a machine so slow no task finished yet
        round_number, rounds = rounds, rounds + 1
        process = subprocess.Popen([sys.executable, "-c", _TASKS, local_db, str(round_number * 1000), pg_sim.PASSWORD],
                                   env=env, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.2, 0.8))
        process.kill()  # SIGKILL: no cleanup, no rollback but the database's own
        out, _err = process.communicate()
        finished.update(int(line) for line in out.split() if line.isdigit())
    backend = LocalBackend(ConnectionSettings(local_db=local_db, username="checker", password=pg_sim.PASSWORD))
    try:
        changes = list(backend.find("change", {}))
        assert changes, "no task ran before the kills: nothing was proven"
        for change in changes:
            notes = [entry["text"] for entry in backend.journal("change", change)]
            number = int(change["correlation_id"].split("-")[1])
            assert (change["state"], notes) == ("implement", [f"note of task {number}"]), change["correlation_id"]
        assert {int(change["correlation_id"].split("-")[1]) for change in changes} >= finished
    finally:
        backend.close()
    if not local_db.startswith("postgresql"):
        with sqlite3.connect(local_db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_itsm_error_ends_the_task_with_what_it_wrote_and_any_other_error_with_nothing(local_db):
    backend = LocalBackend(ConnectionSettings(local_db=local_db, username="t", password=pg_sim.PASSWORD))
    try:
        with pytest.raises(ItsmTransitionError):
            with backend.task():
                backend.create("change", {"short_description": "kept", "correlation_id": "kept"})
                raise ItsmTransitionError("refused after a write")
        with pytest.raises(KeyError):
            with backend.task():
                backend.create("change", {"short_description": "gone", "correlation_id": "gone"})
                raise KeyError("a bug mid-task")
        assert [change["correlation_id"] for change in backend.find("change", {})] == ["kept"]
    finally:
        backend.close()


def test_a_failed_write_inside_a_task_is_undone_alone(local_db):
    backend = LocalBackend(ConnectionSettings(local_db=local_db, username="t", password=pg_sim.PASSWORD))
    try:
        with backend.task():
            backend.create("change", {"short_description": "first", "correlation_id": "first"})
            with pytest.raises(Exception):
                with backend.store.write(check_mode=False) as conn:
                    conn.execute("INSERT INTO no_such_table VALUES (1)")
            backend.create("change", {"short_description": "second", "correlation_id": "second"})
        assert sorted(change["correlation_id"] for change in backend.find("change", {})) == ["first", "second"]
    finally:
        backend.close()
