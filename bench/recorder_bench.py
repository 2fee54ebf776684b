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
"""

import argparse
import datetime
import os
import platform
import re
import resource
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=5, help="interleaved off/on pairs (at least 5)")
    parser.add_argument("--write", action="store_true", help="update the figures in docs/performance.md")
    args = parser.parse_args()
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
