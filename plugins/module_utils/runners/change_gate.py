# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the change_gate module. FOR INTERNAL COLLECTION USE ONLY.

One poll is one round of backend requests (the change with its approvals and affected CIs, the
backend's blackouts), then a pure evaluation (_gate). With ``wait`` it polls on a jittered backoff
until every check passes, one fails for good, or ``wait_timeout`` runs out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from .. import _workflow as workflow
from .._backoff import Backoff
from .._errors import ItsmNotFoundError, ItsmTransientError, ItsmValidationError
from .._gate import CHECK_NAMES, Clock, GateOptions, Verdict, evaluate
from .._policy import Policy, build_policy, format_duration, load_policy, parse_duration
from .._records import CHANGE, CHANGE_STATES, format_datetime, parse_datetime
from ..backends._base import ItsmBackend, Record

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    number=dict(type="str"),
    correlation_id=dict(type="str"),
    checks=dict(type="raw"),
    allowed_states=dict(type="list", elements="str", choices=list(CHANGE_STATES)),
    early_start=dict(type="raw", default=0),
    environment=dict(type="str"),
    hosts=dict(type="list", elements="str"),
    ci_name_var=dict(type="str", default="itsm_ci_name"),
    policy=dict(type="path"),
    policy_data=dict(type="dict"),
    backend_blackouts=dict(type="bool", default=True),
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="raw", default="1h"),
    interval=dict(type="raw", default=15),
    max_interval=dict(type="raw", default="2m"),
    on_timeout=dict(type="str", choices=["fail", "warn"], default="fail"),
    transition_to=dict(type="str", choices=list(CHANGE_STATES)),
)
ARGUMENT_RULES = dict(mutually_exclusive=[("policy", "policy_data"), ("number", "correlation_id")])

# Between polls the delay grows from ``interval`` by this factor up to ``max_interval``, +/- 20 %.
BACKOFF_FACTOR = 1.5
JITTER = 0.2
# A waiting gate prints a progress line when what it waits for changes, or after this many seconds.
PROGRESS_EVERY = 60.0
NO_CHANGE_LABEL = "The deployment"
# The custom stat the gated change is published under: AWX / Automation Platform hands a job's custom stats to the
# next nodes of its workflow as extra variables (workflow artifacts), so they use the change without a look-up.
ARTIFACT_NAME = "itsm_change"
# How the gate's work notes begin: "Change gate passed at <time>; moving to implement." or "Change gate refused at
# <time>: window, approval." followed by one "- check: message" line per check named (the report reads them).
GATE_NOTE_PREFIX = "Change gate "

Progress = t.Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What one poll read from the backend, and when."""

    now: dt.datetime
    change: Record | None
    approvals: list[Record]
    cis: list[str]
    blackouts: list[Record]


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool, warn: t.Callable[[str], None],
        hosts: t.Mapping[str, str] | t.Sequence[str] | None = None, clock: Clock | None = None,
        progress: Progress | None = None) -> dict[str, t.Any]:
    """Evaluate the gate (waiting if asked), then transition and note the verdict if it passed.

    ``hosts`` maps the hosts the play touches to their CI names (the action plugin resolves them); a
    list, or without it the ``hosts`` option, uses the names as CI names. ``progress`` receives one
    line per notable moment of a wait.
    """
    options = GateOptions.from_params(params)
    policy = _policy(params)
    hosts = (params.get("hosts") or []) if hosts is None else hosts
    hosts = dict(hosts) if isinstance(hosts, t.Mapping) else {name: name for name in hosts}
    if not (params.get("number") or params.get("correlation_id")):
        _check_without_change(params, options, policy, backend, warn)
    timeout = parse_duration(params.get("wait_timeout"), "wait_timeout")
    waiting = bool(params.get("wait")) and not check_mode
    clock = clock or Clock()
    started = clock.monotonic()
    delays = iter(_backoff(params))
    reporter = _Reporter(progress, clock)
    polls, gave_up = 0, False
    while True:
        try:
            snapshot = poll(backend, params, options, clock.now())
        except ItsmTransientError as error:
            # An outage longer than one request's retries: a waiting gate keeps polling within its own budget.
            elapsed = clock.monotonic() - started
            if not waiting:
                raise
            if elapsed >= timeout:
                raise ItsmTransientError(
                    f"{error.message}; the gate kept trying for {format_duration(elapsed)} and its wait_timeout of "
                    f"{format_duration(timeout)} is spent", **error.details) from None
            delay = min(next(delays), timeout - elapsed)
            reporter.outage(f"{_subject(params)} could not be read ({error.message}); trying again in "
                            f"{format_duration(delay)}, {format_duration(elapsed)} elapsed")
            clock.sleep(delay)
            continue
        verdict = evaluate(snapshot.change, snapshot.approvals, snapshot.cis, policy, snapshot.now, hosts, options,
                           blackouts=snapshot.blackouts)
        polls += 1
        elapsed = clock.monotonic() - started
        if verdict.passed or verdict.final or not waiting:
            break
        remaining = timeout - elapsed
        latest = snapshot.now + dt.timedelta(seconds=max(remaining, 0))
        if remaining <= 0 or (verdict.not_before is not None and verdict.not_before > latest):
            gave_up = True
            break
        label = _label(snapshot.change)
        reporter.report(f"{label} waiting for {verdict.waiting()}, {format_duration(elapsed)} elapsed", verdict)
        delay = min(next(delays), remaining)
        if verdict.not_before is not None:
            # Wake up when the window opens (or a freeze ends) rather than up to a whole interval later.
            delay = min(delay, max((verdict.not_before - snapshot.now).total_seconds(), 0.0) + 0.01)
        clock.sleep(delay)
    label = _label(snapshot.change)
    result: dict[str, t.Any] = dict(
        changed=False, passed=verdict.passed, checks=[check.to_dict() for check in verdict.checks],
        record=snapshot.change, waited=round(clock.monotonic() - started, 3), polls=polls, timed_out=gave_up,
        msg=verdict.summary(label),
    )
    if verdict.passed:
        if params.get("transition_to"):
            result.update(_transition(backend, snapshot, verdict, params["transition_to"], check_mode))
        return _published(result)
    if snapshot.change is not None and not check_mode:
        result["changed"] = _note_refusal(backend, snapshot, verdict)
    return _published(_failed(result, verdict, params, check_mode, gave_up, timeout, warn))


def workflow_artifact(record: Record | None, passed: bool) -> dict[str, t.Any] | None:
    """What a later workflow node needs of the gated change: number, id, state and the gate's verdict."""
    if not record:
        return None
    return dict(number=record.get("number"), id=record.get("id"), state=record.get("state"),
                approval=record.get("approval"), url=record.get("url"), verdict="passed" if passed else "failed")


def _published(result: dict[str, t.Any]) -> dict[str, t.Any]:
    """The result with the change as a custom stat (what ``set_stats`` returns): ansible-core keeps it for the
    run's stats (ansible-playbook shows it with ``show_custom_stats``), and AWX makes it the job's artifacts. Core
    reads custom stats only from a task that did not fail (``ignore_errors`` does not change that), so a failed
    verdict reaches the next workflow node only when the gate warns instead (``on_timeout: warn``)."""
    artifact = workflow_artifact(result.get("record"), bool(result.get("passed")))
    if artifact is not None:
        result["ansible_stats"] = dict(data={ARTIFACT_NAME: artifact}, per_host=False, aggregate=False)
    return result


def poll(backend: ItsmBackend, params: t.Mapping[str, t.Any], options: GateOptions, now: dt.datetime) -> Snapshot:
    """One round of backend requests: only what the enabled checks need, declared with the change's look-up
    (servicenow: the change, its CIs and approvals in one request, the blackouts in one more; issue 5)."""
    checks = set(options.checks)
    read_blackouts = ("freeze" in checks and params.get("backend_blackouts", True)
                      and "blackouts" in backend.capabilities)
    found = None
    if params.get("number") or params.get("correlation_id"):
        include = {"approvals"} if "approval" in checks else set()
        if read_blackouts and "affected_cis" in backend.capabilities:
            include.add("cis")  # a blackout scoped to CIs is matched by their ids (names need not be unique)
        found = workflow.find_existing(backend, CHANGE, params.get("number"), params.get("correlation_id"),
                                       include=include)
        if found is None:
            raise ItsmNotFoundError(f"correlation_id: no change holds {params['correlation_id']!r} on the "
                                    f"{backend.name} backend", option="correlation_id", value=params["correlation_id"])
    change = found.record if found else None
    approvals = found.approvals if found is not None and "approval" in checks else []
    cis = backend.affected_cis(change) if change is not None and {"scope", "freeze"} & checks else []
    blackouts: list[Record] = []
    if read_blackouts:
        end = (change or {}).get("end_date")
        horizon = max(now, parse_datetime(end, "end_date")) if end else now
        # One second past the horizon: backends treat ranges as open at the end, and a blackout that
        # starts exactly now must be seen.
        blackouts = backend.blackouts(format_datetime(now), format_datetime(horizon + dt.timedelta(seconds=1)),
                                      change, ci_ids=found.ci_ids if found else None)
    return Snapshot(now, change, list(approvals or []), list(cis), list(blackouts))


def _check_without_change(params: t.Mapping[str, t.Any], options: GateOptions, policy: Policy | None,
                          backend: ItsmBackend, warn: t.Callable[[str], None]) -> None:
    """Without a change only the freeze check can run; refuse what would pass by checking nothing."""
    if params.get("transition_to"):
        raise ItsmValidationError("transition_to", params["transition_to"],
                                  "it needs the change: give number or correlation_id")
    if "freeze" not in options.checks:
        raise ItsmValidationError("checks", params.get("checks"), "without number or correlation_id only the freeze "
                                  "check can run; enable it, or name the change")
    if policy is None and not (params.get("backend_blackouts", True) and "blackouts" in backend.capabilities):
        warn(f"freeze: no policy is given and the {backend.name} backend's blackouts are not read, so the freeze "
             "check has nothing to check; give policy or policy_data")


def _policy(params: t.Mapping[str, t.Any]) -> Policy | None:
    if params.get("policy"):
        return load_policy(params["policy"])
    if params.get("policy_data") is not None:
        return build_policy(params["policy_data"], source="policy_data", option="policy_data")
    return None


def _backoff(params: t.Mapping[str, t.Any]) -> Backoff:
    interval = parse_duration(params.get("interval"), "interval")
    if interval <= 0:
        raise ItsmValidationError("interval", params.get("interval"), "expected a positive duration such as 15 or 1m")
    ceiling = parse_duration(params.get("max_interval"), "max_interval")
    return Backoff(interval, factor=BACKOFF_FACTOR, max_delay=max(ceiling, interval), jitter=JITTER)


def _subject(params: t.Mapping[str, t.Any]) -> str:
    """The change as the task names it, for a line written before it could be read."""
    return str(params.get("number") or params.get("correlation_id") or NO_CHANGE_LABEL)


def _label(change: Record | None) -> str:
    return str(change.get("number") or "the change") if change else NO_CHANGE_LABEL


def _transition(backend: ItsmBackend, snapshot: Snapshot, verdict: Verdict, target: str,
                check_mode: bool) -> dict[str, t.Any]:
    """Move the change to ``target`` and write the verdict as a work note (once, with the move)."""
    change = snapshot.change
    path = workflow.plan(CHANGE, change, target, {}, backend)
    if not path:
        return {}
    record = workflow.move(backend, CHANGE, change, path, {}, check_mode)
    backend.add_journal(CHANGE, record, "work_notes", _note(snapshot, verdict, target), check_mode=check_mode)
    if not check_mode:
        record = backend.get(CHANGE, id=record["id"]) or record
    return dict(changed=True, record=record, diff=workflow.diff(change, record),
                msg=f"{verdict.summary(_label(change))} Moved it to {target}.")


def _note(snapshot: Snapshot, verdict: Verdict, target: str) -> str:
    lines = [f"{GATE_NOTE_PREFIX}passed at {format_datetime(snapshot.now)}; moving to {target}."]
    lines += [f"- {check.name}: {check.message}" for check in verdict.checks]
    skipped = [name for name in CHECK_NAMES if name not in {check.name for check in verdict.checks}]
    if skipped:
        lines.append(f"Not checked: {', '.join(skipped)}.")
    return "\n".join(lines)


def _note_refusal(backend: ItsmBackend, snapshot: Snapshot, verdict: Verdict) -> bool:
    """Write the refusal on the change (the report counts refusals by reason from these notes), unless the gate's
    last note on it already says the same checks failed: a retried gate (``until:``) writes once per new answer, not
    once per attempt. Whether it wrote."""
    failing = verdict.failing
    said = [entry.get("text") or "" for entry in backend.journal(CHANGE, snapshot.change)
            if entry.get("field") == "work_notes" and str(entry.get("text") or "").startswith(GATE_NOTE_PREFIX)]
    reasons = ", ".join(check.name for check in failing)
    if said and _refused_for(said[-1]) == reasons:
        return False
    lines = [f"{GATE_NOTE_PREFIX}refused at {format_datetime(snapshot.now)}: {reasons}."]
    lines += [f"- {check.name}: {check.message}" for check in failing]
    backend.add_journal(CHANGE, snapshot.change, "work_notes", "\n".join(lines))
    return True


def _refused_for(text: str) -> str | None:
    """The failing checks a refusal note names (``window, approval``); None for any other note."""
    first = text.split("\n", 1)[0]
    if not first.startswith(GATE_NOTE_PREFIX + "refused at ") or ": " not in first:
        return None
    return first.split(": ", 1)[1].rstrip(".")


def _failed(result: dict[str, t.Any], verdict: Verdict, params: t.Mapping[str, t.Any], check_mode: bool,
            gave_up: bool, timeout: float, warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    message = result["msg"]
    if gave_up:
        cannot = verdict.not_before
        if cannot is not None and result["waited"] < timeout:
            message += (f" It cannot pass before {format_datetime(cannot)}, after the wait_timeout of "
                        f"{format_duration(timeout)}, so the gate stopped waiting.")
        else:
            message += f" Gave up after waiting {format_duration(result['waited'])} (wait_timeout)."
    result["msg"] = message
    if gave_up and params.get("on_timeout") == "warn":
        warn(message)
        return result
    if check_mode and params.get("wait") and not verdict.final:
        # A real run would wait for these checks; a dry run should not stop the play for them.
        warn(f"{message} Check mode does not wait; a real run would.")
        return result
    return dict(result, failed=True)


class _Reporter:
    """Progress lines at normal verbosity, without flooding: on news, else every PROGRESS_EVERY seconds."""

    def __init__(self, sink: Progress | None, clock: Clock):
        self.sink, self.clock = sink, clock
        self.last_key: tuple | None = None
        self.last_time = float("-inf")

    def report(self, line: str, verdict: Verdict) -> None:
        key, now = verdict.progress_key(), self.clock.monotonic()
        if self.sink is None or (key == self.last_key and now - self.last_time < PROGRESS_EVERY):
            return
        self.last_key, self.last_time = key, now
        self.sink(line)

    def outage(self, line: str) -> None:
        """Every failed poll is news: said each time, and the next verdict is said again."""
        self.last_key = None
        if self.sink is not None:
            self.sink(line)
