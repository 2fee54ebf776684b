# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Forked test workers that report through a queue: started together, their reports gathered, then joined."""

from __future__ import annotations

import queue
import time
import typing as t


def run_workers(workers: t.Sequence[t.Any], results: t.Any, wait: float) -> list:
    """Start ``workers`` (multiprocessing Processes that each put one report on ``results``) and return the reports
    that came within ``wait`` seconds; a worker that dies without reporting ends the wait early (its exit code says
    why). Every worker is joined before this returns."""
    for worker in workers:
        worker.start()
    reports: list = []
    deadline = time.monotonic() + wait
    while len(reports) < len(workers) and time.monotonic() < deadline:
        try:
            reports.append(results.get(timeout=0.5))
        except queue.Empty:
            if not any(worker.is_alive() for worker in workers):
                break
    for worker in workers:
        worker.join(timeout=wait)
    return reports
