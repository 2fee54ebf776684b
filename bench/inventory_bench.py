#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the opsgate.itsm.cmdb inventory against a static inventory of the same hosts.

For each size N: seed the backend with N server CIs, run ``ansible-inventory --list`` on a
``*.cmdb.yml`` source, write the very same inventory (hosts, groups, variables) as a static JSON
file, run ``ansible-inventory --list`` on that, and compare wall time and peak memory (each run is
its own process, measured with wait4) in the same run. The backend is a parameter: a Target seeds it,
writes the plugin's connection options and, where it can, counts the requests the plugin made.

    python bench/inventory_bench.py --backend local --sizes 10000,100000 --repeat 3
    python bench/inventory_bench.py --backend servicenow --sizes 10000,100000 --repeat 3

Each size runs each configuration of CONFIGURATIONS (--configurations picks some): the groups people write,
built by the plugin's native default groups, by two keyed groups, and by a compose plus a groups condition.
The static file of a configuration holds plain values, as a user's file would (the ``--list`` output's
``{"__ansible_unsafe": ...}`` wrappers are removed).

Needs ansible-core on PATH (or --ansible-bin) and the collection importable as
ansible_collections.opsgate.itsm (the script builds the same symlinked tree tests/conftest.py does).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Per checkout, as tests/conftest.py names it, so a bench never measures another checkout's code.
COLLECTIONS = os.path.join(tempfile.gettempdir(), f"opsgate-itsm-pytest-{os.getuid()}-"
                           f"{hashlib.sha256(ROOT.encode()).hexdigest()[:10]}")
PERFORMANCE_DOC = os.path.join(ROOT, "docs", "performance.md")
SECTION = "## CMDB inventory"
TABLE_HEAD = ("| backend | configuration | CIs | plugin s | static s | time x | plugin MiB | static MiB | memory x "
              "| requests (budget) |")
TARGET_RATIO = 1.2  # plugin time and memory at most 1.2x the static inventory's (issue 15)
FIELDS = ["fqdn", "host_name", "ip_address", "environment", "operational_status", "location.country"]
#: name -> the source options beyond connection, class and paging (issue 15: the groups people actually write)
CONFIGURATIONS: dict[str, dict[str, t.Any]] = {
    "default_groups": {"fields": ["os", "environment"], "hostnames": ["name"], "default_groups": ["environment"]},
    "keyed_groups": {"fields": ["os", "environment"], "hostnames": ["name"], "default_groups": [],
                     "keyed_groups": [{"key": "cmdb_os"}, {"key": "cmdb_environment"}]},
    "compose_groups": {"fields": ["os", "environment", "ip_address"], "hostnames": ["name"], "ansible_host": [],
                       "default_groups": [], "compose": {"ansible_host": "cmdb_ip_address"},
                       "groups": {"production": "cmdb_environment == 'production'"}},
}
ENVIRONMENTS = ("production", "staging", "test", "development")
STATUSES = ("operational", "operational", "operational", "non_operational", "repair_in_progress")
COUNTRIES = ("NL", "DE", "FR", "US", "JP")


def collection_tree() -> str:
    link = os.path.join(COLLECTIONS, "ansible_collections", "opsgate", "itsm")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.islink(link) or os.readlink(link) != ROOT:
        staged = f"{link}.{os.getpid()}"
        os.symlink(ROOT, staged)
        os.replace(staged, link)
    if os.path.realpath(link) != os.path.realpath(ROOT):
        sys.exit(f"inventory_bench: {link} does not lead to {ROOT}; remove it and run again")
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    return COLLECTIONS


def server(index: int, rng: random.Random) -> tuple[str, str, dict[str, t.Any]]:
    """One cmdb_ci_server-like CI: name, class, fields (the same shape the simulator seeds)."""
    name = f"srv{index:07d}"
    return name, "server", {
        "fqdn": f"{name}.example.com", "host_name": name,
        "ip_address": f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}",
        "environment": rng.choice(ENVIRONMENTS), "operational_status": rng.choice(STATUSES),
        "os": "Linux", "serial_number": f"SN{rng.getrandbits(40):010x}", "location": {"country": rng.choice(COUNTRIES)},
    }


# -- targets: one per backend ----------------------------------------------------------------------

class Target:
    """A backend to benchmark: seeds N CIs, gives the plugin's connection options, counts requests."""

    name = ""
    # The canonical class (_input.ci_class): local stores it so, ServiceNow reads the table cmdb_ci_server.
    ci_class = "server"

    def __init__(self, workdir: str, args: argparse.Namespace):
        self.workdir = workdir
        self.args = args

    def seed(self, size: int) -> None:
        raise NotImplementedError

    def connection(self) -> dict[str, t.Any]:
        raise NotImplementedError

    def reset_requests(self) -> None:
        """Called right before each plugin run."""

    def requests(self) -> int | None:
        """Requests made since reset_requests(), or None when the backend is not reached over HTTP."""
        return None

    def side_figures(self) -> dict[str, t.Any]:
        """Extra figures of the last plugin run (for example a server process's own memory)."""
        return {}

    def close(self) -> None:
        """Release what seed() started."""


class LocalTarget(Target):
    name = "local"

    def seed(self, size: int) -> None:
        collection_tree()
        from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
        from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend

        self.path = os.path.join(self.workdir, f"cmdb-{size}.sqlite")
        self.pages: int | None = None
        if os.path.exists(self.path):
            return
        backend = build_backend(ConnectionSettings(local_db=self.path))
        backend.put_ci("seed", "cmdb_ci_server", {})  # creates and migrates the store
        backend.close()
        rng = random.Random(size)
        conn = sqlite3.connect(self.path)
        with conn:
            conn.execute("DELETE FROM cis")
            conn.executemany("INSERT INTO cis (name, ci_class, fields, updated_at) VALUES (?, ?, ?, ?)",
                             ((name, ci_class, json.dumps(fields, sort_keys=True), "2026-01-01T00:00:00Z")
                              for name, ci_class, fields in (server(index, rng) for index in range(size))))
        conn.close()

    def connection(self) -> dict[str, t.Any]:
        return {"backend": "local", "local_db": self.path}

    def requests(self) -> int | None:
        """SQL pages the local backend reads for the source. The plugin's process cannot be counted from
        here, so the same reader runs in this one with the source's class, fields and page size."""
        if self.pages is None:
            self.pages = self._count_pages()
        return self.pages

    def _count_pages(self) -> int:
        from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
        from ansible_collections.opsgate.itsm.plugins.module_utils.backends import build_backend
        from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import cmdb as local_cmdb

        cursors: list[str] = []
        page = local_cmdb.CiQuery.page

        def counted(ci_query: t.Any, conn: t.Any, after: str, size: int) -> t.Any:
            cursors.append(after)
            return page(ci_query, conn, after, size)

        backend = build_backend(ConnectionSettings(local_db=self.path))
        local_cmdb.CiQuery.page = counted
        try:
            for _ci in backend.iter_cmdb(self.ci_class, FIELDS, None, None, self.args.page_size):
                pass
        finally:
            local_cmdb.CiQuery.page = page
            backend.close()
        return len(cursors)


class ServiceNowTarget(Target):
    """The ServiceNow simulator seeded with N ``cmdb_ci_server`` rows (its own seed, see seed.py), over HTTPS.

    The simulator runs as a separate process on the same machine: its CPU competes with the plugin's, and
    its memory is reported apart (peak RSS while serving the plugin's runs, from /proc)."""

    name = "servicenow"

    def __init__(self, workdir: str, args: argparse.Namespace):
        super().__init__(workdir, args)
        if ROOT not in sys.path:
            sys.path.insert(0, ROOT)
        from tests.simulators.servicenow import harness

        self.harness = harness
        self.sim: t.Any = None
        self.cpu_before = 0.0

    def seed(self, size: int) -> None:
        self.close()
        state = os.path.join(self.workdir, f"servicenow-{size}")
        started = time.perf_counter()
        self.sim = self.harness.start(state, "--seed-cmdb", str(size), timeout=7200)
        self.seed_seconds = time.perf_counter() - started  # process start + seeding (zero work if state is reused)
        self._proc("clear_refs", "5")  # resets the peak RSS: what follows is the serving, not the seeding

    def connection(self) -> dict[str, t.Any]:
        return {"backend": "servicenow", "url": self.sim.url, "username": self.sim.username,
                "password": self.sim.password, "ca_path": self.sim.cert}

    def reset_requests(self) -> None:
        self.sim.admin("POST", "reset", {})  # clears the request log (and faults, tokens, clock); keeps the data
        self.cpu_before = self._cpu_seconds()

    def requests(self) -> int | None:
        return self.sim.request_count()

    def side_figures(self) -> dict[str, t.Any]:
        """The simulator's peak RSS since seeding, and its CPU seconds during the last plugin run."""
        status = self._proc("status")
        peak = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        return {"simulator_peak_mib": round(peak / 1024, 1),
                "simulator_cpu_seconds": round(self._cpu_seconds() - self.cpu_before, 1),
                "seed_seconds": round(self.seed_seconds, 1)}

    def close(self) -> None:
        if self.sim is not None:
            self.sim.stop()
            self.sim = None

    def _proc(self, entry: str, write: str | None = None) -> str:
        path = f"/proc/{self.sim.process.pid}/{entry}"
        try:
            if write is None:
                with open(path) as stream:
                    return stream.read()
            with open(path, "w") as stream:
                stream.write(write)
        except OSError:
            pass
        return ""

    def _cpu_seconds(self) -> float:
        fields = self._proc("stat").rsplit(")", 1)[-1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if len(fields) > 12 else 0.0


TARGETS: dict[str, type[Target]] = {LocalTarget.name: LocalTarget, ServiceNowTarget.name: ServiceNowTarget}


# -- measuring -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Run:
    seconds: float
    max_rss_kib: int


def measure(command: list[str], env: dict[str, str], output: str) -> Run:
    """Wall time and peak RSS of one process (wait4 gives that child's own rusage)."""
    with open(output, "wb") as stream:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=stream, stderr=subprocess.PIPE)
        status, usage = os.wait4(process.pid, 0)[1:]
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors = process.stderr.read().decode(errors="replace")
        process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{errors}")
    return Run(elapsed, usage.ru_maxrss)


def plain(value: t.Any) -> t.Any:
    """A ``--list`` value without its ``{"__ansible_unsafe": ...}`` wrappers: what a user's static file holds."""
    if isinstance(value, dict):
        if len(value) == 1 and "__ansible_unsafe" in value:
            return value["__ansible_unsafe"]
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def static_inventory(listed: dict[str, t.Any]) -> dict[str, t.Any]:
    """``--list`` output -> the same inventory as a static file for the yaml/json inventory plugin."""
    hostvars = listed["_meta"]["hostvars"]
    hosts = {host: plain(values) for host, values in hostvars.items()}
    children = {}
    for group, entry in listed.items():
        if group in ("_meta", "all", "ungrouped") or not isinstance(entry, dict):
            continue
        children[group] = {"hosts": {host: None for host in entry.get("hosts", [])}}
    return {"all": {"hosts": hosts, "children": children}}


def comparable(listed: dict[str, t.Any]) -> dict[str, t.Any]:
    """Hosts with their (plain) variables and the members of each group, ignoring order."""
    groups = {group: sorted(entry.get("hosts", [])) for group, entry in listed.items()
              if group not in ("_meta", "all") and isinstance(entry, dict)}
    return {"hostvars": plain(listed["_meta"]["hostvars"]), "groups": groups}


def bench_size(target: Target, size: int, args: argparse.Namespace, env: dict[str, str],
               configuration: str) -> dict[str, t.Any]:
    target.seed(size)
    source = os.path.join(target.workdir, f"bench-{size}-{configuration}.cmdb.yml")
    config = dict(plugin="opsgate.itsm.cmdb", ci_class=target.ci_class, page_size=args.page_size,
                  workers=args.workers, **CONFIGURATIONS[configuration], **target.connection())
    with open(source, "w") as stream:
        json.dump(config, stream)  # JSON is YAML
    ansible_inventory = os.path.join(args.ansible_bin, "ansible-inventory")
    plugin_out = os.path.join(target.workdir, f"plugin-{size}-{configuration}.json")
    static_out = os.path.join(target.workdir, f"static-out-{size}-{configuration}.json")
    static_file = os.path.join(target.workdir, f"static-{size}-{configuration}.json")
    plugin_runs, static_runs, requests, sides = [], [], [], []
    with_static = args.static_max is None or size <= args.static_max
    for attempt in range(args.repeat):
        target.reset_requests()
        plugin_runs.append(measure([ansible_inventory, "-i", source, "--list"], env, plugin_out))
        count = target.requests()
        if count is not None:
            requests.append(count)
        sides.append(target.side_figures())
        if attempt == 0:
            with open(plugin_out) as stream:
                listed = json.load(stream)
            if with_static:
                with open(static_file, "w") as stream:
                    json.dump(static_inventory(listed), stream)
            hosts = len(listed["_meta"]["hostvars"])
            del listed["_meta"]["hostvars"]  # the static file keeps them; this process need not
        if not with_static:
            continue
        static_runs.append(measure([ansible_inventory, "-i", static_file, "--list"], env, static_out))
        if attempt == 0:
            with open(static_out) as stream, open(plugin_out) as plugin_stream:
                if comparable(json.load(stream)) != comparable(json.load(plugin_stream)):
                    raise SystemExit(f"size {size}: the static inventory does not list the same inventory")
    plugin_time = statistics.median(run.seconds for run in plugin_runs)
    static_time = statistics.median(run.seconds for run in static_runs) if static_runs else None
    plugin_rss = max(run.max_rss_kib for run in plugin_runs)
    static_rss = max(run.max_rss_kib for run in static_runs) if static_runs else None
    side = {key: max(figures[key] for figures in sides) for key in sides[0]} if sides and sides[0] else {}
    return {
        "backend": target.name, "configuration": configuration, "cis": size, "hosts": hosts, "page_size": args.page_size, "workers": args.workers,
        "plugin_seconds": round(plugin_time, 2), "static_seconds": static_time and round(static_time, 2),
        "time_ratio": static_time and round(plugin_time / static_time, 2),
        "plugin_peak_mib": round(plugin_rss / 1024, 1), "static_peak_mib": static_rss and round(static_rss / 1024, 1),
        "memory_ratio": static_rss and round(plugin_rss / static_rss, 2),
        "requests": max(requests) if requests else None,
        "request_budget": math.ceil(size / args.page_size) + 2,
        "plugin_runs_seconds": [round(run.seconds, 2) for run in plugin_runs],
        "static_runs_seconds": [round(run.seconds, 2) for run in static_runs],
        **side,
    }


def table_row(row: dict[str, t.Any]) -> str:
    unit = " SQL pages" if row["backend"] == "local" else ""
    requests = "not counted" if row["requests"] is None else f"{row['requests']}{unit} ({row['request_budget']})"
    row = {key: "not run" if value is None else value for key, value in row.items()}
    return (f"| {row['backend']} | {row['configuration']} | {row['cis']:,} | {row['plugin_seconds']} | {row['static_seconds']} | "
            f"{row['time_ratio']} | {row['plugin_peak_mib']} | {row['static_peak_mib']} | "
            f"{row['memory_ratio']} | {requests} |")


def markdown(rows: list[dict[str, t.Any]]) -> str:
    head = (f"{TABLE_HEAD}\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    lines = [head] + [table_row(row) for row in rows]
    notes = [f"- {row['backend']} {row['configuration']} {row['cis']:,}: seeding {row['seed_seconds']} s (not counted); the simulator "
             f"process used {row['simulator_cpu_seconds']} CPU s during a plugin run (most of any run) and "
             f"peaked at {row['simulator_peak_mib']} MiB RSS while serving" for row in rows if "seed_seconds" in row]
    return "\n".join(lines + ([""] + notes if notes else []))


def missed_targets(rows: list[dict[str, t.Any]]) -> list[str]:
    """One line per missed target; a ratio that was not measured (no static run) misses nothing."""
    misses = []
    for row in rows:
        case = f"{row['backend']} {row['configuration']} {row['cis']:,}"
        for figure in ("time_ratio", "memory_ratio"):
            if row[figure] is not None and row[figure] > TARGET_RATIO:
                misses.append(f"{case}: {figure} {row[figure]} is above {TARGET_RATIO}")
        if row["requests"] is not None and row["requests"] > row["request_budget"]:
            misses.append(f"{case}: {row['requests']} requests, over the budget of {row['request_budget']}")
    return misses


def write_rows(rows: list[dict[str, t.Any]], path: str = PERFORMANCE_DOC) -> str:
    """Replace the measured rows (same backend and size) of the CMDB inventory table, append new ones, and
    leave every other row and all the prose alone: the 100k and 1M figures cost too much to rerun each time."""
    with open(path, encoding="utf-8") as stream:
        lines = stream.read().splitlines()
    start = lines.index(SECTION)
    head = next(index for index in range(start, len(lines)) if lines[index].startswith(TABLE_HEAD))
    end = next((index for index in range(head + 2, len(lines)) if not lines[index].startswith("|")), len(lines))
    table = lines[head + 2:end]
    for row in rows:
        key = f"| {row['backend']} | {row['configuration']} | {row['cis']:,} |"
        found = next((index for index, line in enumerate(table) if line.startswith(key)), None)
        if found is None:
            table.append(table_row(row))
        else:
            table[found] = table_row(row)
    lines[head + 2:end] = table
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--backend", choices=sorted(TARGETS), default="local")
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated CI counts")
    parser.add_argument("--configurations", default=",".join(CONFIGURATIONS),
                        help="comma-separated, of: " + ", ".join(CONFIGURATIONS))
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the median time is reported")
    parser.add_argument("--static-max", type=int, help="measure the static inventory only up to this many CIs "
                        "(it needs about 1.4x the plugin's memory)")
    parser.add_argument("--workdir", help="keep seeded stores and outputs here (default: a temporary directory)")
    parser.add_argument("--ansible-bin", default=os.path.dirname(shutil.which("ansible-inventory") or sys.executable))
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a Markdown table")
    parser.add_argument("--write", action="store_true", help="update the measured rows of the CMDB inventory table "
                        "in docs/performance.md (other rows and the text are left alone)")
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="cmdb-bench-")
    os.makedirs(workdir, exist_ok=True)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_tree(), ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
               ANSIBLE_INVENTORY_ENABLED="opsgate.itsm.cmdb,yaml", ANSIBLE_HOME=os.path.join(workdir, "home"))
    target = TARGETS[args.backend](workdir, args)
    rows = []
    try:
        for size in args.sizes.split(","):
            for configuration in args.configurations.split(","):
                if size.strip() and configuration.strip():
                    rows.append(bench_size(target, int(size), args, env, configuration.strip()))
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # progress, every figure of the row
    finally:
        target.close()
    print(json.dumps(rows, indent=2) if args.json else markdown(rows))
    if args.write:
        print(f"wrote {write_rows(rows)}")
    misses = missed_targets(rows)
    for miss in misses:
        print(f"target missed: {miss}", file=sys.stderr)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
