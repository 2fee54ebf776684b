#!/usr/bin/env python
"""Wall time of a 1,000-task playbook on the local backend with the recorder callback off and on.

    ANSIBLE_COLLECTIONS_PATH=<dir holding ansible_collections/opsgate/itsm> \
        python bench/recorder_bench.py [--tasks N] [--rounds R]

Runs are interleaved (off, on, off, on, ...) so machine noise hits both alike; the figure compared
with the 5 % budget is the fastest run of each (the least disturbed by other load); medians are
printed too. The playbook has 1,000 debug tasks on one host and one failing task that a rescue handles,
so the recorder writes a change, a recap note and no incident, as in a typical CI run.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def playbook(tasks: int) -> str:
    lines = ["- name: Recorder benchmark", "  hosts: localhost", "  gather_facts: false", "  tasks:"]
    for number in range(tasks):
        lines += [f"    - name: Task {number}", "      ansible.builtin.debug:", f"        msg: step {number}"]
    lines += ["    - name: A rescued failure", "      block:", "        - name: Fail",
              "          ansible.builtin.fail:", "            msg: expected", "      rescue:",
              "        - name: Handle", "          ansible.builtin.debug:", "            msg: handled"]
    return "\n".join(lines) + "\n"


def run(path: str, work: str, recorder: bool) -> float:
    env = dict(os.environ, ITSM_BACKEND="local", ITSM_LOCAL_DB=os.path.join(work, "itsm.sqlite"),
               ITSM_OUTBOX=os.path.join(work, "outbox.sqlite"), ANSIBLE_STDOUT_CALLBACK="default")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    if recorder:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "opsgate.itsm.recorder"
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
               "-c", "local", path]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "bench.yml")
        with open(path, "w") as stream:
            stream.write(playbook(args.tasks))
        run(path, work, True)  # warm caches, create the store
        off, on = [], []
        for _unused in range(args.rounds):
            off.append(run(path, work, False))
            on.append(run(path, work, True))
    base, with_recorder = min(off), min(on)
    overhead = 100.0 * (with_recorder - base) / base
    print(f"tasks: {args.tasks + 2}, rounds: {args.rounds}")
    print(f"recorder off: fastest {base:.2f} s, median {statistics.median(off):.2f} s "
          f"({', '.join(f'{v:.2f}' for v in off)})")
    print(f"recorder on:  fastest {with_recorder:.2f} s, median {statistics.median(on):.2f} s "
          f"({', '.join(f'{v:.2f}' for v in on)})")
    print(f"overhead: {with_recorder - base:+.3f} s ({overhead:+.1f} %), budget 5 %")
    sys.exit(0 if overhead <= 5.0 else 1)


if __name__ == "__main__":
    main()
