#!/usr/bin/env python
"""Cost of the recorder callback: a 1,000-task playbook on the local backend, recorder off and on.

    ANSIBLE_COLLECTIONS_PATH=<dir holding ansible_collections/opsgate/itsm> \
        python bench/recorder_bench.py [--tasks N] [--pairs P] [--write]

Runs come in interleaved pairs, one off and one on, the order swapped from one pair to the next (off-on,
on-off, ...), so load from other jobs and any drift hit both sides alike. Two figures per side:

- wall time, median over the pairs: the target figure (the issue's budget is "at most 5 % more wall time");
- controller CPU time, median over the pairs: user + system seconds of ansible-playbook and every process
  it waited for (its forked workers), from ``resource.getrusage(RUSAGE_CHILDREN)`` before and after each
  run. Other jobs on the machine barely move it, so it shows the recorder's own work when wall times are noisy.

The playbook has N debug tasks on one host and one failing task that a rescue handles, so the recorder
writes a change, a recap note and no incident, as in a typical CI run. Exit status 1 when the median wall
time with the recorder is more than 5 % above the median without it. ``--write`` replaces the measured part
of the "Recorder callback" section of docs/performance.md (between its ``recorder_bench`` markers).

``--imports BEFORE [AFTER]`` measures instead what the collection's imports cost when a recorded playbook
starts and when a module task starts, on two revisions (AFTER: HEAD unless given), each extracted with
``git archive``: in a fresh interpreter that has already imported the ansible-core parts a controller has
loaded by then, the time to import the recorder's delivery (or the action base and a runner) and build and
close a ``local`` backend. Interleaved repetitions (the order swapped each time), after one unmeasured run
of each that compiles the bytecode; medians printed, nothing written.
"""

import argparse
import datetime
import os
import platform
import re
import resource
import statistics
import json
import subprocess
import sys
import tempfile
import time

from ansible.release import __version__ as ansible_version

BUDGET_PERCENT = 5.0
DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "performance.md")
BEGIN, END = "<!-- recorder_bench: begin -->", "<!-- recorder_bench: end -->"


def playbook(tasks: int) -> str:
    lines = ["- name: Recorder benchmark", "  hosts: localhost", "  gather_facts: false", "  tasks:"]
    for number in range(tasks):
        lines += [f"    - name: Task {number}", "      ansible.builtin.debug:", f"        msg: step {number}"]
    lines += ["    - name: A rescued failure", "      block:", "        - name: Fail",
              "          ansible.builtin.fail:", "            msg: expected", "      rescue:",
              "        - name: Handle", "          ansible.builtin.debug:", "            msg: handled"]
    return "\n".join(lines) + "\n"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(path: str, work: str, recorder: bool) -> tuple[float, float]:
    """One ansible-playbook run: (wall seconds, CPU seconds of it and its children)."""
    env = dict(os.environ, ITSM_BACKEND="local", ITSM_LOCAL_DB=os.path.join(work, "itsm.sqlite"),
               ITSM_OUTBOX=os.path.join(work, "outbox.sqlite"), ANSIBLE_STDOUT_CALLBACK="default")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if recorder:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "opsgate.itsm.recorder"
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
               "-c", "local", path]
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, children_cpu() - cpu


def measure(tasks: int, pairs: int) -> dict[bool, list[tuple[float, float]]]:
    """Interleaved pairs after one unmeasured run of each side (caches warm, the store created)."""
    samples: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="recorder-bench-") as work:
        path = os.path.join(work, "bench.yml")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(playbook(tasks))
        run(path, work, True)
        run(path, work, False)
        for pair in range(pairs):
            for recorder in ((False, True) if pair % 2 == 0 else (True, False)):
                samples[recorder].append(run(path, work, recorder))
                print(f"pair {pair + 1}, recorder {'on' if recorder else 'off'}: "
                      "wall {:.2f} s, cpu {:.2f} s".format(*samples[recorder][-1]), file=sys.stderr)
    return samples


def summary(samples: dict[bool, list[tuple[float, float]]]) -> dict[str, float]:
    figures = {}
    for recorder, side in ((False, "off"), (True, "on")):
        figures[f"wall_{side}"] = statistics.median(wall for wall, _cpu in samples[recorder])
        figures[f"cpu_{side}"] = statistics.median(cpu for _wall, cpu in samples[recorder])
    figures["wall_overhead"] = 100.0 * (figures["wall_on"] / figures["wall_off"] - 1.0)
    figures["cpu_overhead"] = 100.0 * (figures["cpu_on"] / figures["cpu_off"] - 1.0)
    return figures


def report(samples: dict[bool, list[tuple[float, float]]], figures: dict[str, float], tasks: int) -> str:
    met = figures["wall_overhead"] <= BUDGET_PERCENT
    runs = {recorder: ", ".join(f"{wall:.2f}" for wall, _cpu in samples[recorder]) for recorder in samples}
    lines = [
        BEGIN,
        f"Measured by `bench/recorder_bench.py` on {datetime.date.today().isoformat()} (CPython "
        f"{platform.python_version()}, ansible-core {ansible_version}, {platform.machine()}, {os.cpu_count()} CPUs, "
        "a machine shared with other "
        f"jobs). A playbook of {tasks + 2:,} tasks on localhost ({tasks:,} `debug` tasks and a failure that a "
        f"`rescue` handles), local backend, {len(samples[False])} interleaved pairs of runs with the recorder off "
        "and on (the order swapped from pair to pair), after one unmeasured run of each:",
        "",
        "| | median wall s | median controller CPU s | wall times of the runs, s |",
        "|---|---:|---:|---|",
        f"| recorder off | {figures['wall_off']:.2f} | {figures['cpu_off']:.2f} | {runs[False]} |",
        f"| recorder on | {figures['wall_on']:.2f} | {figures['cpu_on']:.2f} | {runs[True]} |",
        f"| on / off | {figures['wall_on'] / figures['wall_off']:.3f} ({figures['wall_overhead']:+.1f} %) | "
        f"{figures['cpu_on'] / figures['cpu_off']:.3f} ({figures['cpu_overhead']:+.1f} %) | |",
        "",
        f"Target: at most {BUDGET_PERCENT:g} % more wall time with the recorder on (median against median): "
        f"**{'met' if met else 'missed'}** ({figures['wall_overhead']:+.1f} %). Controller CPU time, user + "
        f"system of ansible-playbook and its workers, moved {figures['cpu_overhead']:+.1f} %.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write(text: str, path: str = DOC) -> str:
    """Replace the text between the markers; everything else in the file stays as it is."""
    with open(path, encoding="utf-8") as stream:
        current = stream.read()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n", re.DOTALL)
    if not pattern.search(current):
        sys.exit(f"{path} has no {BEGIN} ... {END} block to replace")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(pattern.sub(lambda _match: text, current, count=1))
    return path


# -- --imports: what the collection's imports cost at the recorder's start and at a module task's start ----

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTION = "ansible_collections.opsgate.itsm.plugins."
#: what each case imports before it builds a local backend
IMPORT_CASES = {
    "recorder start": (COLLECTION + "plugin_utils._recorder_delivery",),
    "module task": (COLLECTION + "plugin_utils._action", COLLECTION + "module_utils.runners.change_request"),
}
# Runs in a fresh interpreter: argv is the tree holding ansible_collections/ and the modules to import.
IMPORT_PROBE = """
import importlib, json, os, sys, tempfile, time
import ansible.cli.playbook, ansible.executor.playbook_executor, ansible.plugins.action, ansible.plugins.callback
loaded = set(sys.modules)
sys.path.insert(0, sys.argv[1])
with tempfile.TemporaryDirectory() as work:
    started = time.perf_counter()
    for name in sys.argv[2:]:
        importlib.import_module(name)
    options = importlib.import_module("%smodule_utils._options")
    backends = importlib.import_module("%smodule_utils.backends")
    backends.build_backend(options.ConnectionSettings(backend="local", local_db=os.path.join(work, "db"))).close()
    seconds = time.perf_counter() - started
new = set(sys.modules) - loaded
print(json.dumps({"seconds": seconds, "modules": len(new), "requests": "requests" in new}))
""" % (COLLECTION, COLLECTION)


def extract(revision: str, work: str) -> str:
    """The revision's plugins/ under <work>/<n>/ansible_collections/opsgate/itsm; returns <work>/<n>."""
    root = os.path.join(work, str(len(os.listdir(work))))
    target = os.path.join(root, "ansible_collections", "opsgate", "itsm")
    os.makedirs(target)
    archive = subprocess.run(["git", "-C", REPOSITORY, "archive", revision, "plugins"], check=True,
                             stdout=subprocess.PIPE).stdout
    subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    return root


def probe(root: str, case: str) -> dict:
    command = [sys.executable, "-W", "ignore", "-c", IMPORT_PROBE, root, *IMPORT_CASES[case]]
    return json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout)


def measure_imports(revisions: list[str], repeat: int) -> str:
    lines = [f"import cost, median of {repeat} interleaved runs per revision and case (seconds; modules newly "
             "imported; whether requests was imported):", "",
             "| case | " + " | ".join(revisions) + " | ratio |", "|---|" + "---:|" * (len(revisions) + 1)]
    with tempfile.TemporaryDirectory(prefix="recorder-imports-") as work:
        roots = [extract(revision, work) for revision in revisions]
        for case in IMPORT_CASES:
            for root in roots:
                probe(root, case)  # compiles the bytecode; not measured
            samples: list[list[dict]] = [[] for _root in roots]
            for number in range(repeat):
                order = range(len(roots)) if number % 2 == 0 else reversed(range(len(roots)))
                for index in order:
                    samples[index].append(probe(roots[index], case))
            medians = [statistics.median(sample["seconds"] for sample in side) for side in samples]
            cells = []
            for median, side in zip(medians, samples):
                requests = "yes" if side[0]["requests"] else "no"
                cells.append(f"{median:.3f} s ({side[0]['modules']} modules, requests: {requests})")
            lines.append(f"| {case} | " + " | ".join(cells) + f" | {medians[0] / medians[-1]:.1f}x |")
            for revision, side in zip(revisions, samples):
                runs = ", ".join(f"{sample['seconds']:.3f}" for sample in side)
                print(f"{case}, {revision}: {runs}", file=sys.stderr)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=5, help="interleaved off/on pairs (at least 5)")
    parser.add_argument("--write", action="store_true", help="update the figures in docs/performance.md")
    parser.add_argument("--imports", nargs="+", metavar="REVISION", help="measure the import cost of BEFORE [AFTER] "
                        "(git revisions; AFTER defaults to HEAD) instead of running playbooks")
    parser.add_argument("--repeat", type=int, default=15, help="with --imports: runs per revision and case")
    args = parser.parse_args()
    if args.imports:
        if len(args.imports) > 2:
            parser.error("--imports takes BEFORE and at most one AFTER revision")
        print(measure_imports(args.imports + ["HEAD"] * (2 - len(args.imports)), args.repeat))
        return
    if args.pairs < 5:
        parser.error(f"--pairs {args.pairs}: at least 5 pairs are needed for a median worth reporting")
    samples = measure(args.tasks, args.pairs)
    figures = summary(samples)
    text = report(samples, figures, args.tasks)
    print(text)
    if args.write:
        print(f"wrote {write(text)}")
    sys.exit(0 if figures["wall_overhead"] <= BUDGET_PERCENT else 1)


if __name__ == "__main__":
    main()
