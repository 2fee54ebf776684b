# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The soak of the outbox (issue 14): kill -9 rounds during flushes and during runs that queue and deliver their
items, on an SQLite file and on a PostgreSQL server; afterwards one flush delivers what is left and every item has
landed exactly once (one incident each, no recurrence counted twice)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as ob
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as rec
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from tests.soak.conftest import figure, size
from tests.unit.plugins.module_utils.backends import pg_sim

ITEMS_PER_ROUND = 8
LEASE = 1.5  # seconds: the killed processes' lease, short so the last flush need not wait long

# A flush (argv[4] == "flush") or a run that queues its round's items and then flushes them (argv[4] == "run"), each
# delivery slowed so the kill lands between a write to the store and the outbox's record of it as often as not.
_PROCESS = """
import sys, time
from ansible_collections.opsgate.itsm.plugins.module_utils import _outbox as ob
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from tests.soak.test_outbox import items
ob.LEASE_SECONDS, ob.RENEW_SECONDS = float(sys.argv[6]), float(sys.argv[6]) / 5
real = ob.deliver
def deliver(backend, item, warn):
    time.sleep(0.05)
    return real(backend, item, warn)
ob.deliver = deliver
box_path, local_db, target, what, round_number, _lease, password = sys.argv[1:8]
box = ob.Outbox(box_path)
backend = build_backend(ConnectionSettings(backend="local", local_db=local_db, username="killed", password=password))
if what == "run":
    box.put(items(int(round_number)), target)
print("ready", flush=True)
ob.flush(box, backend, target, lambda text: None)
print("done", flush=True)
"""


def items(round_number: int) -> list[dict]:
    """The recorder's incident items of one round: ITEMS_PER_ROUND distinct failures."""
    failures = [rec.Failure(playbook="site.yml", play="Web", hosts="web", task=f"Deploy r{round_number} t{n}",
                            host="web1", message="boom") for n in range(ITEMS_PER_ROUND)]
    change = {"correlation_id": rec.Run(run_id="soak", attempt="a1", playbook="site.yml").correlation_id}
    return rec.incident_items(failures, rec.Settings(), f"{rec.MARKER_PREFIX}r{round_number}", "soak run", change)


@pytest.fixture(params=["sqlite", "postgresql"])
def local_db(request, tmp_path) -> str:
    return str(tmp_path / "itsm.sqlite") if request.param == "sqlite" else pg_sim.new_store()


def test_kill_9_rounds_during_flushes_and_runs_deliver_every_item_exactly_once(local_db, tmp_path, request):
    rounds = size().flush_kills
    database = request.node.callspec.params["local_db"]
    settings = ConnectionSettings(backend="local", local_db=local_db, username="flusher", password=pg_sim.PASSWORD)
    box = ob.Outbox(str(tmp_path / "outbox.sqlite"))
    target = ob.target_of(settings)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    rng = random.Random(6)
    killed = 0
    for round_number in range(rounds):
        what = "flush" if round_number % 2 else "run"  # a flush of queued items, or a run queueing its own
        if what == "flush":
            box.put(items(round_number), target)
        process = subprocess.Popen([sys.executable, "-c", _PROCESS, box.path, local_db, target, what,
                                    str(round_number), str(LEASE), pg_sim.PASSWORD],
                                   env=env, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.4))
        process.kill()
        out, _err = process.communicate()
        killed += "done" not in out
    time.sleep(LEASE + 0.5)  # the killed processes' leases end
    backend = build_backend(settings)
    try:
        last = ob.flush(box, backend, target, lambda text: None)
        left = box.list(("pending", "failed"))
        incidents = list(backend.find("incident", {}))
        # A run prints "ready" once its items are queued: every round's items are in the outbox before its kill.
        queued = {item["correlation_id"] for round_number in range(rounds) for item in items(round_number)}
        recurrences = sum(1 for record in incidents for entry in backend.journal("incident", record)
                          if entry["text"].startswith("Recurrence #"))
        by_id = {}
        for record in incidents:
            by_id[record["correlation_id"]] = by_id.get(record["correlation_id"], 0) + 1
    finally:
        backend.close()
    delivered = box.list(("delivered",))
    section = f"outbox on local {database}"
    figure(section, "kill -9 rounds (flushes / runs) / killed mid-way", f"{rounds} ({rounds // 2} / {rounds - rounds // 2}) "
           f"/ {killed}")
    figure(section, "items queued / delivered / left", f"{len(delivered) + len(left)} / {len(delivered)} / {len(left)}")
    figure(section, "delivered by the flush after the kills", len(last["delivered"]))
    figure(section, "incidents doubled / recurrences counted twice", f"{sum(n - 1 for n in by_id.values())} / {recurrences}")

    assert left == [] and len(delivered) == len(queued) == rounds * ITEMS_PER_ROUND
    assert set(by_id) == queued  # nothing lost
    assert all(count == 1 for count in by_id.values()) and recurrences == 0  # nothing doubled
