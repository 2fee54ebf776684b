# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The soak's sizes, its figures and its simulators (issue 14: ``make soak``; docs/reliability.md).

``OPSGATE_SOAK`` (``make soak SOAK=...``) picks the size: ``ci`` (the default, what ``make test`` runs: about two
minutes on a 2-core machine) or ``full`` (the issue's numbers: under ten minutes). Each test records its figures with
``figure()``; they are printed at the end of the run, after pytest's summary, and written to
``.cache/reports/soak-<size>.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import pytest

from tests.unit.plugins.module_utils.backends import jsm_sim, sn_sim

SIZE_ENV = "OPSGATE_SOAK"


@dataclasses.dataclass(frozen=True)
class Size:
    name: str
    processes: int  # local: concurrent processes writing one store
    hosts: int  # simulators: hosts of the play
    forks: int  # simulators: the play's forks
    group: int  # hosts sharing one correlation id
    task_kills: int  # local: kill -9 rounds during multi-step tasks
    flush_kills: int  # outbox: kill -9 rounds during flushes
    fault_rounds: int  # simulators: rounds of every fault kind


SIZES = {
    "ci": Size("ci", processes=12, hosts=30, forks=10, group=10, task_kills=3, flush_kills=3, fault_rounds=1),
    "full": Size("full", processes=50, hosts=200, forks=50, group=10, task_kills=20, flush_kills=10, fault_rounds=2),
}
_FIGURES: list[tuple[str, str, str]] = []
_STARTED = time.time()


def size() -> Size:
    name = os.environ.get(SIZE_ENV, "ci")
    if name not in SIZES:
        raise pytest.UsageError(f"{SIZE_ENV}={name!r}: expected one of {', '.join(SIZES)} (make soak SOAK=ci|full)")
    return SIZES[name]


def figure(section: str, name: str, value: object) -> None:
    """Record one figure of the soak, printed (and written) at the end of the run."""
    _FIGURES.append((section, name, str(value)))


def pytest_configure(config):
    size()  # a wrong size stops the run before anything starts


@pytest.fixture(scope="session", autouse=True)
def _stop_simulators():
    yield
    sn_sim.stop()
    jsm_sim.stop()


def pytest_terminal_summary(terminalreporter):
    chosen = size()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    terminalreporter.section(f"soak figures (size {chosen.name}, {time.time() - _STARTED:.0f} s, load {load})")
    for section, name, value in _FIGURES:
        terminalreporter.write_line(f"{section:<28} {name:<58} {value}")
    reports = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           ".cache", "reports")
    os.makedirs(reports, exist_ok=True)
    with open(os.path.join(reports, f"soak-{chosen.name}.json"), "w", encoding="utf-8") as out:
        json.dump({"size": dataclasses.asdict(chosen), "seconds": round(time.time() - _STARTED), "load": load,
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "figures": [{"section": s, "figure": n, "value": v} for s, n, v in _FIGURES]}, out, indent=1)
