#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run every CI step (`make <step>`), keep going after a failure, and print one summary.

`make test` calls this. Each step is an ordinary make target a developer can run alone. Every step
runs even when an earlier one failed (except when the virtualenv cannot be made), so one run
reports every problem; the exit code is non-zero if any step failed.

The last line printed is "N passed, M failed", where N counts the passed pytest tests (every
ansible-core line: main, next and floor) plus the passed non-pytest steps, and M counts failed or erroring pytest tests
plus failed steps. A pytest run that collected no test fails its step, so "no tests" cannot pass.
The summary is also written to .cache/reports/summary.txt.

Usage: run_all.py [STEP ...]   (default: every step, in CI order)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPORTS = os.path.join(ROOT, ".cache", "reports")
# (make target, junit report of its pytest run or None, stop everything if it fails)
STEPS = [
    ("venv", None, True),
    ("units", "units.xml", False),
    ("soak", "soak.xml", False),
    ("imports", None, False),
    ("sanity", None, False),
    ("integration", None, False),
    ("lint", None, False),
    ("docs-lint", None, False),
    ("build-check", None, False),
    ("molecule", None, False),
    ("next", "units-next.xml", False),
    ("floor", "units-floor.xml", False),
]


def junit_counts(name: str) -> tuple[int, int, int] | None:
    """Return (passed, failed, skipped) from a pytest junit report, or None when it is missing."""
    path = os.path.join(REPORTS, name)
    if not os.path.exists(path):
        return None
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failed = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return tests - failed - skipped, failed, skipped


def main() -> int:
    """Run the steps and print the summary; return the exit code."""
    wanted = sys.argv[1:] or [s[0] for s in STEPS]
    unknown = set(wanted) - {s[0] for s in STEPS}
    if unknown:
        print(f"unknown step(s): {sorted(unknown)}; known: {[s[0] for s in STEPS]}")
        return 2
    os.makedirs(REPORTS, exist_ok=True)
    rows = []
    passed = failed = 0
    make = os.environ.get("MAKE", "make")
    started = time.monotonic()
    for target, report, fatal in STEPS:
        if target not in wanted:
            continue
        if report:
            # A stale report from an earlier run must not stand in for this one.
            try:
                os.remove(os.path.join(REPORTS, report))
            except FileNotFoundError:
                pass
        print(f"\n===== make {target} =====", flush=True)
        begin = time.monotonic()
        code = subprocess.call([make, "--no-print-directory", target], cwd=ROOT)
        seconds = time.monotonic() - begin
        note = ""
        ok = code == 0
        counts = junit_counts(report) if report else None
        if counts is not None:
            n_passed, n_failed, n_skipped = counts
            note = f"pytest: {n_passed} passed, {n_failed} failed, {n_skipped} skipped"
            if n_passed + n_failed == 0:
                ok, note = False, note + " (no test ran)"
            passed += n_passed
            failed += n_failed
        elif report:
            ok, note = False, "no pytest report"
        if counts is None or not ok and counts[1] == 0:
            # A step without tests of its own counts once; so does a failure the test counts do not show.
            if ok:
                passed += 1
            else:
                failed += 1
        rows.append((target, "ok" if ok else f"FAILED (exit {code})" if code else "FAILED", seconds, note))
        if fatal and not ok:
            print(f"make {target} failed; the other steps need it, stopping.")
            break
    total = time.monotonic() - started
    lines = ["", "===== CI summary =====", f"{'step':<13} {'result':<18} {'seconds':>8}  notes"]
    lines += [f"{t:<13} {r:<18} {s:>8.1f}  {n}" for t, r, s, n in rows]
    lines.append(f"{'total':<13} {'':<18} {total:>8.1f}")
    lines.append("counted: pytest tests of every ansible-core line, plus one per other step")
    lines.append(f"{passed} passed, {failed} failed")
    with open(os.path.join(REPORTS, "summary.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines[1:]) + "\n")
    print("\n".join(lines), flush=True)
    return 1 if failed or any(r[1] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
