#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local store on PostgreSQL against the SQLite file (issue 18): a task, single writes, 50 concurrent writers.

    .venv/bin/python bench/local_store_bench.py [--tasks N] [--rounds R] [--writers W] [--each K] [--write]

Starts a throw-away PostgreSQL server from Debian's postgresql package (tests/postgresql_server.py) with its
default durability (fsync on, synchronous commit), in a temporary directory, and measures on both stores:

- a task: one play on localhost with R interleaved rounds (SQLite block, then PostgreSQL block) of N
  ``opsgate.itsm.incident`` tasks that each create an incident (distinct correlation ids); the play stamps the
  time around each block, so both pay the same strategy and callback costs; median ms per task over the rounds;
- in process: one backend's create, get by number and update of an incident, median and p95 ms (200 each);
- W forked writers (as many controllers or job pods) that wait at one barrier and then each create K incidents,
  one transaction each: wall time, writes per second, and whether the numbers are unique and gapless.

``--write`` replaces the "Local store on PostgreSQL" section of docs/performance.md (between its markers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "performance.md")
SECTION = "## Local store on PostgreSQL"
BEGIN, END = "<!-- local_store_bench: begin -->", "<!-- local_store_bench: end -->"
# The server as a small production one runs: durable commits; room for the writers and the play.
SERVER_SETTINGS = ("max_connections=150",)


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
sys.path.insert(0, ROOT)

# pylint: disable=wrong-import-position  # after the collection is importable
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings  # noqa: E402
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend  # noqa: E402
from tests import postgresql_server  # noqa: E402

_fork = multiprocessing.get_context("fork")


def backend(local_db: str, who: str = "bench") -> LocalBackend:
    return LocalBackend(ConnectionSettings(local_db=local_db, username=who, password=postgresql_server.PASSWORD,
                                           timeout=120))


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median": statistics.median(ordered), "p95": ordered[int(len(ordered) * 0.95) - 1]}


def in_process(local_db: str, count: int = 200) -> dict[str, dict[str, float]]:
    store = backend(local_db)
    store.create("incident", {"short_description": "warm-up"})
    timings: dict[str, list[float]] = {"create": [], "get by number": [], "update": []}
    for index in range(count):
        started = time.perf_counter()
        record = store.create("incident", {"short_description": f"bench {index}"})
        timings["create"].append(time.perf_counter() - started)
        started = time.perf_counter()
        store.get("incident", number=record["number"])
        timings["get by number"].append(time.perf_counter() - started)
        started = time.perf_counter()
        store.update("incident", record, {"urgency": "high"})
        timings["update"].append(time.perf_counter() - started)
    store.close()
    return {name: summary([value * 1000 for value in values]) for name, values in timings.items()}


def _writer(local_db: str, index: int, each: int, barrier, results) -> None:
    store = backend(local_db, f"writer{index}")
    store.get("incident", number="INC0000000")  # connect (and migrate) before the race starts
    barrier.wait(timeout=300)
    numbers, errors = [], []
    for number in range(each):
        try:
            numbers.append(store.create("incident", {"short_description": f"writer {index} #{number}"})["number"])
        except Exception as exc:  # pylint: disable=broad-exception-caught  # counted, reported below
            errors.append(f"{type(exc).__name__}: {exc}")
    results.put((numbers, errors))


def concurrent(local_db: str, writers: int, each: int) -> dict[str, object]:
    backend(local_db).create("incident", {"short_description": "the store exists"})
    barrier, results = _fork.Barrier(writers + 1), _fork.Queue()
    processes = [_fork.Process(target=_writer, args=(local_db, index, each, barrier, results))
                 for index in range(writers)]
    for process in processes:
        process.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    outcomes = [results.get(timeout=600) for _process in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    numbers = sorted(number for found, _errors in outcomes for number in found)
    errors = [error for _found, found_errors in outcomes for error in found_errors]
    expected = [f"INC{n:07d}" for n in range(2, writers * each + 2)]
    return {"seconds": elapsed, "writes": len(numbers), "per_second": len(numbers) / elapsed, "errors": errors,
            "unique_gapless": numbers == expected}


def playbook(stores: dict[str, str], tasks: int, rounds: int) -> str:
    lines = ["- name: incident tasks on SQLite and PostgreSQL", "  hosts: localhost", "  gather_facts: false",
             "  tasks:", "    - {name: mark, ansible.builtin.set_fact: {marks: []}}"]
    mark = "    - {name: mark, ansible.builtin.set_fact: {marks: \"{{ marks + [['%s', now().timestamp()]] }}\"}}"
    for name, local_db in stores.items():
        lines.append(f"    - {{name: warm up {name}, opsgate.itsm.incident: {{short_description: warm-up, "
                     f"correlation_id: warm-{name}, local_db: '{local_db}'}}}}")
    for round_number in range(rounds):
        for name, local_db in stores.items():
            lines.append(mark % f"{name}-start")
            lines += [f"    - {{name: {name} {index}, opsgate.itsm.incident: {{short_description: 'task {index}', "
                      f"correlation_id: 'r{round_number}-t{index}', local_db: '{local_db}'}}}}"
                      for index in range(tasks)]
            lines.append(mark % f"{name}-end")
    lines.append("    - {name: report, ansible.builtin.debug: {msg: \"MARKS={{ marks | to_json }}\"}}")
    return "\n".join(lines) + "\n"


def in_play(workdir: str, stores: dict[str, str], tasks: int, rounds: int) -> dict[str, float]:
    path = os.path.join(workdir, "bench.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(playbook(stores, tasks, rounds))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ITSM_BACKEND="local",
               ITSM_PASSWORD=postgresql_server.PASSWORD, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if output.returncode != 0:
        raise SystemExit(f"ansible-playbook failed:\n{output.stdout[-3000:]}\n{output.stderr[-3000:]}")
    marks = json.loads(output.stdout.split('"MARKS=', 1)[1].split('"\n', 1)[0].replace('\\"', '"'))
    per_task: dict[str, list[float]] = {name: [] for name in stores}
    for (label, started), (_end_label, ended) in zip(marks[::2], marks[1::2]):
        per_task[label.rsplit("-", 1)[0]].append((float(ended) - float(started)) * 1000 / tasks)
    return {name: statistics.median(values) for name, values in per_task.items()}


def server_version(url: str) -> str:
    with psycopg.connect(url, password=postgresql_server.PASSWORD) as conn:
        return conn.info.parameter_status("server_version") or "?"


def report(args, figures: dict, version: str) -> str:
    sqlite, pg = figures["sqlite"], figures["postgresql"]
    lines = [
        SECTION, "", BEGIN, "",
        f"Measured by `bench/local_store_bench.py` on {dt.date.today().isoformat()} ({platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, a machine shared with other jobs: "
        f"load average {args.load:.0f} when it started, so compare the two columns rather than the absolute figures). "
        f"PostgreSQL {version} from Debian's package on the same machine, over TCP on loopback, default durability "
        "(fsync, synchronous commit); SQLite in WAL mode on the local disk.", "",
        f"A task (`opsgate.itsm.incident` creating an incident; {args.rounds} interleaved rounds of {args.tasks} "
        "tasks each, median over the rounds):", "",
        "| store | ms per task |", "|---|---:|",
        f"| SQLite file | {sqlite['task']:.1f} |", f"| PostgreSQL | {pg['task']:.1f} |", "",
        "In process, one backend (200 of each; median / p95 ms):", "",
        "| operation | SQLite | PostgreSQL |", "|---|---:|---:|",
    ]
    for name in sqlite["ops"]:
        lines.append(f"| {name} | {sqlite['ops'][name]['median']:.2f} / {sqlite['ops'][name]['p95']:.2f} | "
                     f"{pg['ops'][name]['median']:.2f} / {pg['ops'][name]['p95']:.2f} |")
    lines += ["", f"{args.writers} forked writers at once, {args.each} incidents each (one transaction per write):", "",
              "| store | seconds | writes/s | errors | numbers unique and gapless |", "|---|---:|---:|---:|---|"]
    for label, data in (("SQLite file", sqlite["writers"]), ("PostgreSQL", pg["writers"])):
        lines.append(f"| {label} | {data['seconds']:.2f} | {data['per_second']:.0f} | {len(data['errors'])} | "
                     f"{'yes' if data['unique_gapless'] else 'NO'} |")
    lines += ["", "Writers of one store take turns on its write lock on both databases (SQLite's `BEGIN IMMEDIATE`, "
              "a PostgreSQL advisory lock), so the concurrent figure is the store's serial write rate: what a "
              "PostgreSQL store adds is a network round trip per statement, and what it gives is one store that "
              "many controllers and job pods share.", "", END]
    return "\n".join(lines) + "\n"


def write(section: str) -> None:
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    if BEGIN in text:
        start = text.index(SECTION + "\n")
        end = text.index(END, start) + len(END) + 1
        text = text[:start] + section + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(DOC, "w", encoding="utf-8") as handle:
        handle.write(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--each", type=int, default=10)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    args.load = os.getloadavg()[0]
    workdir = tempfile.mkdtemp(prefix="opsgate-itsm-local-store-bench-")
    server = os.path.join(workdir, "server")
    url = postgresql_server.start(server, settings=SERVER_SETTINGS)
    try:
        figures = {}
        for name, make in (("sqlite", lambda which: os.path.join(workdir, f"{which}.sqlite")),
                           ("postgresql", lambda which: f"{url}?options=-csearch_path%3D{which}")):
            if name == "postgresql":  # a schema per measure: each starts from an empty store
                with psycopg.connect(url, password=postgresql_server.PASSWORD, autocommit=True) as conn:
                    for which in ("ops", "writers", "task"):
                        conn.execute(f"CREATE SCHEMA {which}")
            figures[name] = {"ops": in_process(make("ops")),
                             "writers": concurrent(make("writers"), args.writers, args.each), "store": make("task")}
        per_task = in_play(workdir, {name: figures[name]["store"] for name in figures}, args.tasks, args.rounds)
        for name in figures:
            figures[name]["task"] = per_task[name]
        section = report(args, figures, server_version(url))
    finally:
        postgresql_server.stop(server)
    print(section)
    if args.write:
        write(section)
    return 0 if all(figures[name]["writers"]["unique_gapless"] for name in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
