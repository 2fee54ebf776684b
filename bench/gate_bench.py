#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the change gate costs on the local backend.

1. Per poll, in-process: the backend time of one poll (one round of requests: the change, its
   approvals, its affected CIs, the blackouts), the pure evaluation, and a whole single-evaluation
   run() including the policy file load. Target: under 5 ms of backend time per poll.
2. Per task, in a real play: the gate task against ansible.builtin.ping, interleaved in the same play
   on localhost, timed by the play itself. Target: the gate within 1.5x of ping.

Usage: python bench/gate_bench.py [--polls N] [--tasks N] [--rounds N] [--write]
--write replaces the "Change gate" section of docs/performance.md (other sections are left alone).
Run it with the interpreter of the virtualenv that holds ansible-core (its ansible-playbook is used).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "## Change gate"
BACKEND_TARGET_MS = 5.0
TASK_TARGET_RATIO = 1.5


def collections_path() -> str:
    """A directory holding ansible_collections/opsgate/itsm -> this checkout (as tests/conftest.py does)."""
    base = os.path.join(tempfile.gettempdir(), f"opsgate-itsm-bench-{os.getuid()}")
    link = os.path.join(base, "ansible_collections", "opsgate", "itsm")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.islink(link) and os.readlink(link) != ROOT:
        os.unlink(link)
    if not os.path.lexists(link):
        os.symlink(ROOT, link)
    return base


sys.path.insert(0, collections_path())

from ansible_collections.opsgate.itsm.plugins.module_utils._gate import GateOptions, evaluate  # noqa: E402
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings  # noqa: E402
from ansible_collections.opsgate.itsm.plugins.module_utils._policy import load_policy  # noqa: E402
from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend  # noqa: E402
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_gate  # noqa: E402

POLICY = """\
version: 1
timezone: Europe/Paris
windows:
  - name: nightly batch
    weekly: {days: [mon, tue, wed, thu, fri], start: "22:00", end: "06:00"}
    scope: {ci_patterns: ["db-*"]}
  - name: month-end close
    monthly: {days: [-1], start: "18:00", duration: 30h}
    scope: {environments: [production]}
  - name: year-end freeze
    start: "2030-12-20"
    end: "2031-01-04"
    exempt_emergency: true
"""


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(db: str, filler: int, blackouts: int) -> str:
    """A store with ``filler`` other changes, ``blackouts`` past blackout windows and one approved change."""
    backend = build_backend(ConnectionSettings(backend="local", local_db=db, username="bench"))
    now = dt.datetime.now(dt.timezone.utc)
    try:
        for index in range(filler):
            backend.create("change", {"short_description": f"filler {index}", "configuration_items": [f"srv{index}"]})
        for index in range(blackouts):
            start = now - dt.timedelta(days=2 * index + 2)
            backend.put_blackout(f"past blackout {index}", iso(start), iso(start + dt.timedelta(hours=4)))
        record = backend.create("change", {
            "short_description": "benchmarked change", "assignment_group": "Platform",
            "start_date": iso(now - dt.timedelta(hours=1)), "end_date": iso(now + dt.timedelta(hours=6)),
            "configuration_items": ["localhost", "web01", "web02"]})
        record = backend.transition("change", record, "assess")
        for approver in ("tech.lead", "cab.chair"):
            record = backend.decide_approval(record, approver, "approved", "ok")
        return record["number"]
    finally:
        backend.close()


def timed(function, repeat: int) -> list[float]:
    """Milliseconds per call."""
    samples = []
    for _call in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median": statistics.median(ordered), "p95": ordered[int(len(ordered) * 0.95) - 1],
            "mean": statistics.fmean(ordered)}


def in_process(workdir: str, number: str, db: str, polls: int) -> dict[str, dict[str, float]]:
    policy_path = os.path.join(workdir, "freezes.yml")
    with open(policy_path, "w", encoding="utf-8") as handle:
        handle.write(POLICY)
    backend = build_backend(ConnectionSettings(backend="local", local_db=db, username="bench"))
    params = {"number": number, "backend_blackouts": True, "policy": policy_path, "wait": False,
              "wait_timeout": 0, "interval": 1, "max_interval": 1, "early_start": 0, "on_timeout": "fail"}
    options = GateOptions(environment="production")
    policy = load_policy(policy_path)
    hosts = {"localhost": "localhost", "web01": "web01"}
    try:
        change_gate.poll(backend, params, options, dt.datetime.now(dt.timezone.utc))  # open the connection
        snapshot = change_gate.poll(backend, params, options, dt.datetime.now(dt.timezone.utc))
        results = {
            "backend time per poll (4 requests)": timed(
                lambda: change_gate.poll(backend, params, options, dt.datetime.now(dt.timezone.utc)), polls),
            "evaluate() (pure)": timed(
                lambda: evaluate(snapshot.change, snapshot.approvals, snapshot.cis, policy, snapshot.now, hosts,
                                 options, blackouts=snapshot.blackouts), polls),
            "policy file load and validation": timed(lambda: load_policy(policy_path), max(polls // 10, 20)),
            "run(): one evaluation, policy load included": timed(
                lambda: change_gate.run(params, backend, check_mode=False, warn=lambda message: None, hosts=hosts),
                max(polls // 2, 50)),
        }
        verdict = change_gate.run(params, backend, check_mode=False, warn=print, hosts=hosts)
        if not verdict["passed"]:
            raise SystemExit(f"the benchmarked gate does not pass: {verdict['msg']}")
    finally:
        backend.close()
    return {name: summary(samples) for name, samples in results.items()}


def playbook(number: str, tasks: int, rounds: int) -> str:
    """Interleaved blocks of ping and gate tasks on localhost; the play stamps the time around each block."""
    lines = ["- name: change_gate against ping", "  hosts: localhost", "  gather_facts: false", "  tasks:",
             "    - {name: warm up ping, ansible.builtin.ping: {}}",
             f"    - {{name: warm up gate, opsgate.itsm.change_gate: {{number: {number}}}}}",
             "    - {name: mark, ansible.builtin.set_fact: {marks: []}}"]
    mark = "    - {name: mark, ansible.builtin.set_fact: {marks: \"{{ marks + [['%s', now().timestamp()]] }}\"}}"
    for _round in range(rounds):
        for kind, task in (("ping", "ansible.builtin.ping: {}"),
                           ("gate", f"opsgate.itsm.change_gate: {{number: {number}}}")):
            lines.append(mark % f"{kind}-start")
            lines += [f"    - {{name: {kind} {index}, {task}}}" for index in range(tasks)]
            lines.append(mark % f"{kind}-end")
    lines.append("    - {name: report, ansible.builtin.debug: {msg: \"MARKS={{ marks | to_json }}\"}}")
    return "\n".join(lines) + "\n"


def in_play(workdir: str, number: str, db: str, tasks: int, rounds: int) -> dict[str, float]:
    path = os.path.join(workdir, "bench.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(playbook(number, tasks, rounds))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ITSM_BACKEND="local", ITSM_LOCAL_DB=db,
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if output.returncode != 0:
        raise SystemExit(f"ansible-playbook failed:\n{output.stdout[-3000:]}\n{output.stderr[-3000:]}")
    marks = json.loads(output.stdout.split('"MARKS=', 1)[1].split('"\n', 1)[0].replace('\\"', '"'))
    per_task: dict[str, list[float]] = {"ping": [], "gate": []}
    for (label, started), (_end_label, ended) in zip(marks[::2], marks[1::2]):
        per_task[label.split("-")[0]].append((float(ended) - float(started)) * 1000 / tasks)
    return {kind: statistics.median(values) for kind, values in per_task.items()}


def report(figures: dict, per_task: dict[str, float], args: argparse.Namespace) -> str:
    backend = figures["backend time per poll (4 requests)"]
    ratio = per_task["gate"] / per_task["ping"]
    verdict_backend = "met" if backend["p95"] < BACKEND_TARGET_MS else "NOT met"
    verdict_task = "met" if ratio <= TASK_TARGET_RATIO else "NOT met"
    lines = [
        SECTION, "",
        f"Measured by `bench/gate_bench.py` on {dt.date.today().isoformat()} ({platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs). Local backend, store holding "
        f"{args.filler} other changes and {args.blackouts} blackout windows; a policy file with 3 windows; a change "
        "with 2 approvals and 3 affected CIs.", "",
        f"Per poll, in process ({args.polls} polls):", "",
        "| What | median ms | p95 ms |", "|---|---|---|",
    ]
    lines += [f"| {name} | {values['median']:.2f} | {values['p95']:.2f} |" for name, values in figures.items()]
    lines += [
        "",
        f"Target: under {BACKEND_TARGET_MS:g} ms of backend time per poll: **{verdict_backend}** (p95 "
        f"{backend['p95']:.2f} ms). A poll is one round of four requests: the change, its approvals, its affected "
        "CIs and the blackouts overlapping now to the end of its window. The policy file is read once per task, "
        "not per poll.", "",
        f"Per task, in one play on localhost ({args.rounds} interleaved rounds of {args.tasks} tasks of each kind; "
        "median over the rounds of the time the play itself measured around each block):", "",
        "| Task | ms per task |", "|---|---|",
        f"| `ansible.builtin.ping` | {per_task['ping']:.1f} |",
        f"| `opsgate.itsm.change_gate` (one evaluation, passes) | {per_task['gate']:.1f} |", "",
        f"Target: the gate within {TASK_TARGET_RATIO:g}x of ping: **{verdict_task}** (ratio {ratio:.2f}). The gate "
        "runs in the controller's worker process (an action plugin: nothing is shipped, no interpreter is "
        "started), which is why it costs less than ping, a module that Ansible runs through AnsiballZ even on "
        "localhost.",
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str) -> str:
    path = os.path.join(ROOT, "docs", "performance.md")
    current = open(path, encoding="utf-8").read() if os.path.exists(path) else "# Performance\n"
    lines = current.splitlines(keepends=True)
    start = next((index for index, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        end = next((index for index in range(start + 1, len(lines)) if lines[index].startswith("## ")), len(lines))
        tail = "".join(lines[end:])
        updated = "".join(lines[:start]) + text + ("\n" + tail if tail else "")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(updated)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=500, help="polls timed in process")
    parser.add_argument("--tasks", type=int, default=20, help="tasks per block in the play")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved ping/gate blocks in the play")
    parser.add_argument("--filler", type=int, default=1000, help="other changes in the store")
    parser.add_argument("--blackouts", type=int, default=50, help="blackout windows in the store")
    parser.add_argument("--write", action="store_true", help="update the Change gate section of docs/performance.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as workdir:
        db = os.path.join(workdir, "itsm.sqlite")
        number = seed(db, args.filler, args.blackouts)
        figures = in_process(workdir, number, db, args.polls)
        per_task = in_play(workdir, number, db, args.tasks, args.rounds)
    text = report(figures, per_task, args)
    print(text)
    if args.write:
        print(f"wrote {write_section(text)}")


if __name__ == "__main__":
    main()
