# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The soak on each remote backend's simulator (issue 14, "What make soak proves"): ServiceNow and JSM (Cloud).

- A play of the collection's modules over many hosts with many forks (ansible-playbook, the real action plugins),
  correlation ids shared by groups of hosts: no failed task, no connection error, per shared id one open incident
  carrying each host's note once and recurrence numbers 2..N+1 each once (N the recurrences the tasks reported;
  on jsm the ones noted, which are the first: jsm/recurrence.py notes at a bounded rate), per host one change with
  its note once. Counted on the server afterwards.
- Two controllers (two ansible-playbook runs sharing no file) running one play over the same hosts at once: every
  id is created by both, and each ends with one open record that every task of both ended on, each note once.
- Faults (429 with Retry-After, 5xx bursts, resets before and during the body, responses slower than the timeout,
  on ServiceNow an error inside a 200), each on every request or on one method: every task either completes with
  exactly one record and one note, or fails with the collection's own error within its budget.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmError
from ansible_collections.opsgate.itsm.plugins.module_utils._lookup import RECURRENCE_PREFIX, is_open
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import incident
from tests.soak.conftest import figure, size
from tests.soak.test_local import _task
from tests.unit.plugins.module_utils.backends import jsm_sim, sn_sim

REMOTES = ("servicenow", "jsm")
#: seconds JSM Cloud's search index lags behind a create (the simulator's default): a checker reading with a backend
#: of its own, which never created the issues, waits it out
CLOUD_INDEX_LAG = 2.0
# soak_by: what the notes add after the host (two controllers: which one wrote it)
PLAY = """
- name: Soak
  hosts: all
  gather_facts: false
  tasks:
    - name: The failure the hosts of a group share
      opsgate.itsm.incident:
        correlation_id: "soak-{{ soak_run }}-g{{ soak_group }}"
        short_description: "soak failure of group {{ soak_group }} ({{ soak_run }})"
        work_notes: "seen on {{ inventory_hostname }}{{ soak_by | default('') }}"
    - name: A change of each host
      opsgate.itsm.change_request:
        correlation_id: "soak-{{ soak_run }}-{{ inventory_hostname }}"
        short_description: "soak change of {{ inventory_hostname }} ({{ soak_run }})"
        work_notes: "change of {{ inventory_hostname }}{{ soak_by | default('') }}"
"""


# Each task result of the play, one JSON line each, for the checks (ansible-core 2.19 has no built-in json callback).
_CALLBACK = """
import json, os
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "soak_results"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, status):
        entry = {"host": result._host.get_name(), "task": result._task.get_name(), "status": status,
                 "recurred": bool(result._result.get("recurred")), "msg": str(result._result.get("msg") or ""),
                 "number": (result._result.get("record") or {}).get("number"),
                 "warnings": [str(w) for w in result._result.get("warnings") or []]}
        with open(os.environ["SOAK_RESULTS"], "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\\n")

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._write(result, "unreachable")
"""


def _settings(name: str, **options) -> ConnectionSettings:
    """The simulator's connection settings (started on first use), its faults cleared."""
    if name == "servicenow":
        sim = sn_sim.simulator()
        sim.admin("DELETE", "faults")
        return sn_sim.settings(sim, **options)
    sim = jsm_sim.simulator("cloud")
    sim.admin("DELETE", "faults")
    return dataclasses.replace(jsm_sim.settings(sim), **options)


def _sim(name: str):
    return sn_sim.simulator() if name == "servicenow" else jsm_sim.simulator("cloud")


def _environment(name: str, settings: ConnectionSettings) -> dict:
    secret = {"ITSM_PASSWORD": settings.password} if name == "servicenow" else {"ITSM_TOKEN": settings.token}
    return dict(os.environ, ITSM_BACKEND=name, ITSM_URL=settings.url, ITSM_USERNAME=settings.username,
                ITSM_CA_PATH=settings.ca_path, ITSM_TIMEOUT="30", ITSM_RETRIES="3", **secret,
                ANSIBLE_COLLECTIONS_PATH=os.environ["OPSGATE_ITSM_TEST_COLLECTIONS"], ANSIBLE_CALLBACKS_ENABLED="soak_results",
                ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="False")


def _play_files(tmp_path, chosen, run: str, play: str):
    """The hosts, and in ``tmp_path`` the inventory (hosts in groups of ``chosen.group``), the play and the callback
    that writes each task's result."""
    hosts = [f"h{index:03d}" for index in range(chosen.hosts)]
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[soak]\n" + "".join(
        f"{host} ansible_connection=local ansible_python_interpreter={sys.executable} soak_group={index // chosen.group}\n"
        for index, host in enumerate(hosts)) + f"[soak:vars]\nsoak_run={run}\n", encoding="utf-8")
    (tmp_path / "play.yml").write_text(play, encoding="utf-8")
    (tmp_path / "callbacks").mkdir()
    (tmp_path / "callbacks" / "soak_results.py").write_text(_CALLBACK, encoding="utf-8")
    return hosts, inventory


@pytest.mark.parametrize("name", REMOTES)
def test_a_play_over_many_hosts_and_forks_sharing_ids_loses_and_doubles_nothing(name, tmp_path):
    chosen = size()
    settings = _settings(name)
    run = uuid.uuid4().hex[:8]
    hosts, inventory = _play_files(tmp_path, chosen, run, PLAY)
    (tmp_path / "home").mkdir()
    results_path = tmp_path / "results.jsonl"
    env = dict(_environment(name, settings), ANSIBLE_HOME=str(tmp_path / "home"), SOAK_RESULTS=str(results_path),
               ANSIBLE_CALLBACK_PLUGINS=str(tmp_path / "callbacks"))
    started = time.monotonic()
    played = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
                             "-f", str(chosen.forks), str(tmp_path / "play.yml")], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=900, check=False)
    seconds = time.monotonic() - started
    results = [json.loads(line) for line in results_path.read_text(encoding="utf-8").splitlines()] \
        if results_path.exists() else []
    assert len(results) == 2 * chosen.hosts, (played.stdout + played.stderr)[-3000:]
    failed = [f"{result['host']} {result['task']}: {result['msg'][:300]}" for result in results
              if result["status"] != "ok"]
    warned = [text for result in results for text in result["warnings"]]
    warned += [line for line in (played.stdout + played.stderr).splitlines() if "[WARNING]" in line]
    connection = [text for text in warned if "retrying" in text or "connection" in text.lower()]
    recurred: dict[str, int] = {}
    for result in results:
        if result["task"] == "The failure the hosts of a group share":
            key = f"soak-{run}-g{hosts.index(result['host']) // chosen.group}"
            recurred[key] = recurred.get(key, 0) + result["recurred"]

    if name == "jsm":
        time.sleep(CLOUD_INDEX_LAG + 0.5)
    backend = build_backend(settings)
    problems = []
    notes_lost = notes_doubled = numbers_wrong = 0
    try:
        for group in range((chosen.hosts + chosen.group - 1) // chosen.group):
            key = f"soak-{run}-g{group}"
            members = hosts[group * chosen.group:(group + 1) * chosen.group]
            holders = [record for record in backend.find("incident", {"correlation_id": key})
                       if is_open("incident", record)]
            if len(holders) != 1:
                problems.append(f"{key}: {len(holders)} open incidents")
                continue
            texts = [entry["text"].strip() for entry in backend.journal("incident", holders[0])]
            for host in members:
                count = texts.count(f"seen on {host}")
                notes_lost += count == 0
                notes_doubled += max(0, count - 1)
            numbers = sorted(int(text[len(RECURRENCE_PREFIX):].split(":")[0]) for text in texts
                             if text.startswith(RECURRENCE_PREFIX))
            expected = list(range(2, 2 + recurred.get(key, 0)))
            if name == "jsm":  # noted at a bounded rate (jsm/recurrence.py): the first ones, each once
                expected = expected[:len(numbers)]
            if numbers != expected:
                numbers_wrong += 1
                problems.append(f"{key}: recurrence numbers {numbers}, expected {expected}")
        changes = 0
        for host in hosts:
            found = list(backend.find("change", {"correlation_id": f"soak-{run}-{host}"}))
            changes += len(found)
            if len(found) != 1:
                problems.append(f"change of {host}: {len(found)} records")
                continue
            count = [entry["text"].strip() for entry in backend.journal("change", found[0])].count(f"change of {host}")
            notes_lost += count == 0
            notes_doubled += max(0, count - 1)
    finally:
        backend.close()
    section = f"play on {name} simulator"
    figure(section, "hosts x forks (ids shared by)", f"{chosen.hosts} x {chosen.forks} ({chosen.group})")
    figure(section, "wall time (s)", f"{seconds:.1f}")
    figure(section, "failed tasks / connection warnings", f"{len(failed)} / {len(connection)}")
    figure(section, "recurrences reported / occurrences not counted",
           f"{sum(recurred.values())} / {chosen.hosts - len(recurred) - sum(recurred.values())}")
    figure(section, "changes (expected) / shared-id groups with problems", f"{changes} ({chosen.hosts}) / "
           f"{len(problems)}")
    figure(section, "notes lost / doubled / groups with wrong numbers", f"{notes_lost} / {notes_doubled} / {numbers_wrong}")

    # A task whose create met another fork's incident (records.Met) counts too: every host but one per group recurs.
    assert sum(recurred.values()) == chosen.hosts - len(recurred), recurred
    assert failed == [] and played.returncode == 0, (failed[:5], played.stderr[-2000:])
    assert connection == []
    assert problems == [] and notes_lost == notes_doubled == 0


# -- two controllers -------------------------------------------------------------------------------------------

CONTROLLERS = ("a", "b")


@pytest.mark.parametrize("name", REMOTES)
def test_two_controllers_running_one_play_at_once_end_with_one_record_per_id(name, tmp_path):
    """Two controllers (two ansible-playbook runs sharing no file: each its own ANSIBLE_HOME and cache directory,
    so no lock and no memory of created issues) run the same play over the same hosts at the same moment: every id
    is created by both at once. Each task must end on the one record its id keeps (the other's create retired its
    twin and returned it), with each controller's note on it once."""
    # Half the hosts and forks of the one-controller play on each controller: the same load on the simulator.
    chosen = dataclasses.replace(size(), hosts=size().hosts // 2, forks=size().forks // 2)
    settings = _settings(name)
    run = uuid.uuid4().hex[:8]
    hosts, inventory = _play_files(tmp_path, chosen, run, PLAY)
    plays = {}
    logged = _sim(name).admin("GET", "requests")["count"] if name == "servicenow" else 0
    started = time.monotonic()
    for controller in CONTROLLERS:
        home = tmp_path / controller
        (home / "ansible").mkdir(parents=True)
        env = dict(_environment(name, settings), ANSIBLE_HOME=str(home / "ansible"), XDG_CACHE_HOME=str(home / "cache"),
                   SOAK_RESULTS=str(home / "results.jsonl"), ANSIBLE_CALLBACK_PLUGINS=str(tmp_path / "callbacks"))
        plays[controller] = subprocess.Popen(  # pylint: disable=consider-using-with  # waited for below
            [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory), "-f",
             str(chosen.forks), "-e", json.dumps({"soak_by": f" by {controller}"}), str(tmp_path / "play.yml")],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    outputs = {controller: play.communicate(timeout=900)[0] for controller, play in plays.items()}
    seconds = time.monotonic() - started
    results = {controller: [json.loads(line) for line in (tmp_path / controller / "results.jsonl").read_text(
        encoding="utf-8").splitlines()] if (tmp_path / controller / "results.jsonl").exists() else []
        for controller in CONTROLLERS}
    for controller in CONTROLLERS:
        assert len(results[controller]) == 2 * chosen.hosts, outputs[controller][-3000:]
    failed = [f"{controller} {result['host']} {result['task']}: {result['msg'][:300]}"
              for controller in CONTROLLERS for result in results[controller] if result["status"] != "ok"]
    partial = [text for controller in CONTROLLERS for result in results[controller] for text in result["warnings"]
               if "checked among" in text]  # jsm: a twin check the index's lag cut short
    reported: dict[str, set] = {}  # id -> the numbers the tasks of both controllers ended on
    for controller in CONTROLLERS:
        for result in results[controller]:
            group = hosts.index(result["host"]) // chosen.group
            key = (f"soak-{run}-g{group}" if result["task"] == "The failure the hosts of a group share"
                   else f"soak-{run}-{result['host']}")
            reported.setdefault(key, set()).add(result["number"])

    if name == "jsm":
        time.sleep(CLOUD_INDEX_LAG + 0.5)
    backend = build_backend(settings)
    problems = []
    notes_lost = notes_doubled = split = numbers_repeated = 0
    try:
        expected = {}  # id -> the kind of its record and the notes it must carry once each
        for index, host in enumerate(hosts):
            shared = expected.setdefault(f"soak-{run}-g{index // chosen.group}", ("incident", []))
            shared[1].extend(f"seen on {host} by {controller}" for controller in CONTROLLERS)
            expected[f"soak-{run}-{host}"] = ("change", [f"change of {host} by {controller}" for controller in CONTROLLERS])
        for key, (kind, notes) in expected.items():
            holders = [record for record in backend.find(kind, {"correlation_id": key}) if is_open(kind, record)]
            if len(holders) != 1:
                problems.append(f"{key}: {len(holders)} open {kind}s")
                continue
            if reported.get(key) != {holders[0]["number"]}:
                split += 1
                problems.append(f"{key}: the tasks ended on {sorted(map(str, reported.get(key, [])))}, the id keeps "
                                f"{holders[0]['number']}")
            texts = [entry["text"].strip() for entry in backend.journal(kind, holders[0])]
            for note in notes:
                count = texts.count(note)
                notes_lost += count == 0
                notes_doubled += max(0, count - 1)
            numbers = sorted(int(text[len(RECURRENCE_PREFIX):].split(":")[0]) for text in texts
                             if text.startswith(RECURRENCE_PREFIX))
            numbers_repeated += len(numbers) != len(set(numbers))
        # The twins the races made, retired: canceled and holding no id on jsm; deleted on ServiceNow (its log)
        if name == "servicenow":
            retired = sum(1 for entry in _sim(name).admin("GET", "requests")["requests"][logged:]
                          if entry["method"] == "DELETE" and entry["path"].startswith(("/api/now/table/incident/",
                                                                                      "/api/now/table/change_request/")))
        else:
            retired = sum(1 for kind in ("change", "incident") for record in backend.find(kind, {"state": "canceled"})
                          if f"({run})" in str(record.get("short_description")) and not record.get("correlation_id"))
    finally:
        backend.close()
    opened = sum(1 for problem in problems if " open " in problem)
    figures = {
        "hosts x forks, on each of 2 controllers": f"{chosen.hosts} x {chosen.forks}",
        "wall time (s)": f"{seconds:.1f}",
        "failed tasks / twin checks cut short by the index's lag": f"{len(failed)} / {len(partial)}",
        "ids (expected) / ids with other than one open record": f"{len(expected)} / {opened}",
        "ids whose tasks ended on another record / notes lost / doubled": f"{split} / {notes_lost} / {notes_doubled}",
        "twins made by the races and retired (jsm: canceled; ServiceNow: deleted)": retired,
        # Jira has no conditional write: across controllers a recurrence number may repeat (jsm/recurrence.py)
        "incidents with a recurrence number twice (jsm: not held across controllers)": numbers_repeated}
    for label, value in figures.items():
        figure(f"two controllers on {name}", label, value)

    assert failed == [] and all(play.returncode == 0 for play in plays.values()), (failed[:5], outputs)
    assert problems == [] and notes_lost == notes_doubled == 0 and partial == [], (problems[:10], partial[:3])
    assert numbers_repeated == 0 or name == "jsm"


# -- faults ---------------------------------------------------------------------------------------------------

FAULTS = {
    "429 with Retry-After": {"kind": "rate_limit", "retry_after": 1, "count": 2},
    "5xx burst": {"kind": "status", "status": 503, "count": 3},
    "reset before the body": {"kind": "reset", "stage": "headers", "count": 1},
    "reset during the body": {"kind": "reset", "stage": "body", "count": 1},
    "slower than the timeout": {"kind": "slow", "delay_ms": 3000, "count": 1},
    "error inside a 200": {"kind": "txn_cancel", "count": 1},  # ServiceNow's "Transaction cancelled"
}
WRITE_METHOD = {"servicenow": "PATCH", "jsm": "PUT"}


@pytest.mark.parametrize("name", REMOTES)
def test_under_each_fault_a_task_writes_once_or_fails_clearly_within_its_budget(name):
    chosen = size()
    methods = [None, "POST", WRITE_METHOD[name]] + (["GET"] if chosen.name == "full" else [])
    settings = _settings(name)
    faulty = dataclasses.replace(settings, timeout=2.0, retries=3)
    budget = faulty.timeout * (faulty.retries + 1) + 30
    sim = _sim(name)
    if name == "jsm":  # the checker reads each case at once: a lag shorter than a task (as jsm_sim's contract suite)
        sim.admin("POST", "settings", {"index_lag": jsm_sim.CLOUD_INDEX_LAG})
    cases = done = failed_clearly = wrong = over_budget = 0
    slowest = 0.0
    problems = []
    for round_number in range(chosen.fault_rounds):
        for label, rule in FAULTS.items():
            if name == "jsm" and rule["kind"] == "txn_cancel":
                continue
            for method in methods:
                cases += 1
                key = f"fault-{uuid.uuid4().hex[:8]}"
                sim.admin("DELETE", "faults")
                sim.admin("POST", "faults", dict(rule, **({"method": method} if method else {})))
                backend = build_backend(faulty)
                outcome = "done"
                started = time.monotonic()
                try:
                    _task(backend, incident, correlation_id=key, short_description=f"fault {label}",
                          work_notes=f"first note {key}")
                    _task(backend, incident, correlation_id=key, short_description=f"fault {label} again",
                          work_notes=f"second note {key}", recurrence_note=False)
                except ItsmError as error:
                    outcome = f"failed: {error}"
                except Exception as error:  # pylint: disable=broad-except  # anything else is a defect found
                    outcome = f"defect: {type(error).__name__}: {error}"
                finally:
                    backend.close()
                took = time.monotonic() - started
                slowest = max(slowest, took)
                sim.admin("DELETE", "faults")
                time.sleep(jsm_sim.CLOUD_INDEX_LAG if name == "jsm" else 0)
                checker = build_backend(settings)
                try:
                    found = list(checker.find("incident", {"correlation_id": key}))
                    texts = [entry["text"].strip() for record in found for entry in checker.journal("incident", record)]
                finally:
                    checker.close()
                counts = (len(found), texts.count(f"first note {key}"), texts.count(f"second note {key}"))
                case = f"{label} on {method or 'every method'} (round {round_number + 1})"
                if outcome == "done":
                    done += 1
                    ok = counts == (1, 1, 1)
                else:
                    failed_clearly += outcome.startswith("failed")
                    ok = outcome.startswith("failed") and max(counts) <= 1
                if took > 2 * budget:  # two tasks, each within its own budget
                    over_budget += 1
                    ok = False
                if not ok:
                    wrong += 1
                    problems.append(f"{case}: {outcome[:300]}; records, first notes, second notes = {counts}, "
                                    f"{took:.1f} s")
    section = f"faults on {name} simulator"
    figure(section, "cases (fault kind x method x round)", cases)
    figure(section, "completed with one write each / failed with a clear error", f"{done} / {failed_clearly}")
    figure(section, "lost, doubled or unclear / over budget", f"{wrong} / {over_budget}")
    figure(section, "slowest case (s) / budget per task (s)", f"{slowest:.1f} / {budget:g}")
    if name == "jsm":
        sim.admin("POST", "settings", {"index_lag": CLOUD_INDEX_LAG})

    assert problems == []
