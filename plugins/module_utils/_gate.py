# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change gate's evaluation and clock. FOR INTERNAL COLLECTION USE ONLY.

``evaluate()`` is pure: it takes what the backend said (change, approvals, CIs, blackouts), the
policy, the time and the hosts, and returns a Verdict. Each check first reduces its inputs to facts
(``approval: rejected``, ``window: before``) with a message; whether those facts pass, fail for
good or are worth waiting for is data, the ``acceptors()`` table (style.md C6: pass_when / fail_when).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import typing as t

from ._errors import ItsmValidationError
from ._lifecycle import CHANGE_APPROVAL_MOVES, CHANGE_APPROVAL_REQUESTED_IN
from ._policy import Occurrence, Policy, PolicyContext, format_duration, parse_duration
from ._records import CHANGE_STATES, CLOSED_CHANGE_STATES, format_datetime, parse_datetime

Record = t.Mapping[str, t.Any]
CHECK_NAMES = ("approval", "state", "window", "freeze", "scope")
DEFAULT_ALLOWED_STATES = ("scheduled", "implement")
PASS, FAIL, WAIT = "pass", "fail", "wait"
_LISTED = 10  # names listed in a message before "and N more"


# -- acceptors: which facts pass, which fail for good; everything else is worth waiting for ---------

@dataclasses.dataclass(frozen=True)
class Condition:
    """``fact`` has one of ``values``."""

    fact: str
    values: tuple[t.Any, ...]

    def holds(self, facts: t.Mapping[str, t.Any]) -> bool:
        return facts.get(self.fact) in self.values


@dataclasses.dataclass(frozen=True)
class Acceptor:
    """A check passes when any ``pass_when`` holds and fails for good when any ``fail_when`` holds
    (failure wins); otherwise it is still pending and a waiting gate polls again."""

    check: str
    pass_when: tuple[Condition, ...]
    fail_when: tuple[Condition, ...] = ()

    def judge(self, facts: t.Mapping[str, t.Any]) -> str:
        if any(condition.holds(facts) for condition in self.fail_when):
            return FAIL
        if any(condition.holds(facts) for condition in self.pass_when):
            return PASS
        return WAIT


def acceptors(allowed_states: t.Sequence[str] = DEFAULT_ALLOWED_STATES) -> tuple[Acceptor, ...]:
    """The gate's rules. A change in a state past every allowed one (or closed/canceled) will not
    come back, so waiting for it is pointless."""
    last_allowed = max(CHANGE_STATES.index(state) for state in allowed_states)
    gone = tuple(state for index, state in enumerate(CHANGE_STATES)
                 if state not in allowed_states and (index > last_allowed or state in CLOSED_CHANGE_STATES))
    return (
        Acceptor("approval", pass_when=(Condition("approval", ("approved",)),),
                 fail_when=(Condition("approval", ("rejected", "canceled", "not_requested")),)),
        Acceptor("state", pass_when=(Condition("state", tuple(allowed_states)),),
                 fail_when=(Condition("state", gone),)),
        Acceptor("window", pass_when=(Condition("window", ("inside", "early", "unplanned")),),
                 fail_when=(Condition("window", ("closed",)),)),
        Acceptor("freeze", pass_when=(Condition("freeze", ("clear",)),),
                 fail_when=(Condition("freeze", ("rest_of_window",)),)),
        Acceptor("scope", pass_when=(Condition("scope", ("covered", "no_hosts")),)),
    )


# -- results ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Check:
    """One check's answer; ``final`` means failed for good (waiting cannot help)."""

    name: str
    passed: bool
    final: bool
    message: str
    waiting: str | None = None  # what a waiting gate waits for ("" : nothing of its own; None: see message)
    not_before: dt.datetime | None = None  # the earliest time this check could pass, when known
    facts: tuple[tuple[str, t.Any], ...] = ()  # what the acceptor judged, plus details; changes mean progress

    def to_dict(self) -> dict[str, t.Any]:
        return {"name": self.name, "passed": self.passed, "message": self.message}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The gate's answer: passed when every check passed, final when any failed for good."""

    passed: bool
    final: bool
    checks: tuple[Check, ...]

    @property
    def failing(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.passed)

    @property
    def not_before(self) -> dt.datetime | None:
        """A lower bound on when the gate could pass: every failing check must pass first."""
        known = [check.not_before for check in self.failing if check.not_before is not None]
        return max(known) if known else None

    def summary(self, label: str) -> str:
        """One readable paragraph naming every failing check."""
        if self.passed:
            return f"{label} passed the change gate ({', '.join(check.name for check in self.checks)})."
        parts = "; ".join(f"{check.name}: {check.message}" for check in self.failing)
        return f"{label} did not pass the change gate: {parts}."

    def waiting(self) -> str:
        """What a waiting gate waits for, for progress lines."""
        parts = [check.message if check.waiting is None else check.waiting for check in self.failing]
        return "; ".join(part for part in parts if part) or "the change"

    def progress_key(self) -> tuple:
        """Equal for two polls that wait for the same things: time passing alone is no news."""
        return tuple((check.name, check.facts) for check in self.failing)


@dataclasses.dataclass(frozen=True)
class Finding:
    """What a check found, before its acceptor judges ``facts``."""

    facts: dict[str, t.Any]
    message: str
    waiting: str | None = None
    not_before: dt.datetime | None = None


# -- options ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class GateOptions:
    checks: tuple[str, ...] = CHECK_NAMES
    allowed_states: tuple[str, ...] = DEFAULT_ALLOWED_STATES
    early_start: float = 0.0
    environment: str | None = None

    @classmethod
    def from_params(cls, params: t.Mapping[str, t.Any]) -> "GateOptions":
        states = tuple(params.get("allowed_states") or DEFAULT_ALLOWED_STATES)
        for state in states:
            if state not in CHANGE_STATES:
                raise ItsmValidationError("allowed_states", state, "expected states from: " + ", ".join(CHANGE_STATES))
        early = params.get("early_start")
        return cls(checks=_enabled_checks(params.get("checks")), allowed_states=states,
                   early_start=parse_duration(early, "early_start") if early not in (None, "") else 0.0,
                   environment=params.get("environment"))


def _enabled_checks(value: t.Any) -> tuple[str, ...]:
    """``checks`` is a list of the checks to run, or a dict of per-check toggles over the default all."""
    allowed = "expected a list of check names or a dict of check: true/false, names from: " + ", ".join(CHECK_NAMES)
    if value is None:
        return CHECK_NAMES
    if isinstance(value, t.Mapping):
        unknown = [name for name in value if name not in CHECK_NAMES]
        enabled = tuple(name for name in CHECK_NAMES if _flag(value.get(name, True), f"checks.{name}"))
    elif isinstance(value, (list, tuple)):
        unknown = [name for name in value if name not in CHECK_NAMES]
        enabled = tuple(name for name in CHECK_NAMES if name in value)
    else:
        raise ItsmValidationError("checks", value, allowed)
    if unknown:
        raise ItsmValidationError("checks", unknown[0], allowed)
    if not enabled:
        raise ItsmValidationError("checks", value, "at least one check must stay enabled")
    return enabled


def _flag(value: t.Any, option: str) -> bool:
    text = str(value).strip().lower()
    if isinstance(value, bool) or text in ("true", "false", "yes", "no", "on", "off", "1", "0"):
        return value if isinstance(value, bool) else text in ("true", "yes", "on", "1")
    raise ItsmValidationError(option, value, "expected true or false")


# -- evaluation ------------------------------------------------------------------------------------

def evaluate(change: Record | None, approvals: t.Sequence[Record], cis: t.Sequence[str], policy: Policy | None,
             now: dt.datetime, hosts: t.Mapping[str, str] | None, options: GateOptions,
             blackouts: t.Sequence[Record] = ()) -> Verdict:
    """The verdict for ``change`` at ``now``; without a change only the freeze check can run.

    ``hosts`` maps inventory host names to CI names; ``blackouts`` are the backend's own windows
    (``{name, start, end, source, reason}``).
    """
    inputs = _Inputs(change, approvals, cis, policy, now.astimezone(dt.timezone.utc), hosts or {}, options, blackouts)
    names = options.checks if change is not None else tuple(name for name in options.checks if name == "freeze")
    checks = []
    for acceptor in acceptors(options.allowed_states):
        if acceptor.check not in names:
            continue
        finding = _FINDERS[acceptor.check](inputs)
        outcome = acceptor.judge(finding.facts)
        checks.append(Check(acceptor.check, outcome == PASS, outcome == FAIL, finding.message, finding.waiting,
                            finding.not_before if outcome == WAIT else None, tuple(sorted(finding.facts.items()))))
    return Verdict(all(check.passed for check in checks), any(check.final for check in checks), tuple(checks))


class _Inputs(t.NamedTuple):
    change: Record | None
    approvals: t.Sequence[Record]
    cis: t.Sequence[str]
    policy: Policy | None
    now: dt.datetime
    hosts: t.Mapping[str, str]
    options: GateOptions
    blackouts: t.Sequence[Record]


def _approval(change: Record, approvals: t.Sequence[Record]) -> Finding:
    approval = change.get("approval") or "not_requested"
    if change.get("state") == "canceled" and approval in ("requested", "not_requested"):
        return Finding({"approval": "canceled"},
                       "the change was canceled before it was approved" + _comments(approvals, ()))
    if approval == "approved":
        approvers = _names(approval for approval in approvals if approval.get("state") == "approved")
        return Finding({"approval": approval}, f"approved by {approvers}" if approvers else "approved")
    if approval == "rejected":
        rejected = [item for item in approvals if item.get("state") == "rejected"]
        who = _names(rejected)
        return Finding({"approval": approval},
                       (f"rejected by {who}" if who else "rejected") + _comments(rejected, ("rejected",)))
    if approval == "requested":
        return _pending(change, approvals)
    stage = CHANGE_APPROVAL_REQUESTED_IN.get(change.get("type") or "")
    how = f"; moving the change to {stage} requests it" if stage else ""
    return Finding({"approval": approval},
                   f"approval was never requested (approval is {approval}, state {change.get('state')}), so "
                   f"waiting would not end{how}")


def _pending(change: Record, approvals: t.Sequence[Record]) -> Finding:
    pending = [item for item in approvals if item.get("state") == "requested"]
    if pending:
        current = [item for item in _open_stages(approvals)
                   if item.get("state") in ("requested", "approved", "rejected")]
        count = f"{len(pending)} of {len(current)} approvers pending"
        return Finding({"approval": "requested", "pending": _names(pending)},
                       f"waiting for approval, {count} ({_names(pending)})", f"approval, {count}")
    # Backends that only record decisions cannot say who is pending; say which stage waits instead.
    state = change.get("state")
    so_far = _names(item for item in approvals if item.get("state") == "approved" and item.get("stage") == state)
    decided = f", approved so far by {so_far}" if so_far else ""
    return Finding({"approval": "requested", "stage": state, "decided": so_far},
                   f"waiting for approval in {state}{decided}", f"approval in {state}{decided}")


def _open_stages(approvals: t.Sequence[Record]) -> t.Sequence[Record]:
    """The approvals of the stages still open; decisions of earlier stages are history.

    Without stages (ServiceNow records none, so every stage is None) the contract's oldest-first
    order stands in: the open stage's rows were created together, so they start at the first
    pending row, and an earlier stage's approver is not counted again ("1 of 2" for a 1-of-1 CAB).
    An approver of the open stage who decided and whose row sorts before every pending one is then
    left out of the count (rows of one stage share a creation time).
    """
    stages = {item.get("stage") for item in approvals if item.get("state") == "requested"}
    if stages != {None}:
        return [item for item in approvals if item.get("stage") in stages]
    first = next(index for index, item in enumerate(approvals) if item.get("state") == "requested")
    return approvals[first:]


def _names(items: t.Iterable[Record]) -> str:
    return ", ".join(str(item.get("approver")) for item in items if item.get("approver"))


def _comments(approvals: t.Sequence[Record], states: tuple[str, ...]) -> str:
    quoted = [f"{item.get('approver') or 'an approver'}: \"{str(item['comments']).strip()}\""
              for item in approvals
              if item.get("comments") and str(item["comments"]).strip() and (not states or item.get("state") in states)]
    return f" (comments: {'; '.join(quoted)})" if quoted else ""


def _state(change: Record, allowed: t.Sequence[str]) -> Finding:
    state = change.get("state")
    wanted = " or ".join(allowed)
    if state in allowed:
        return Finding({"state": state}, f"state {state} is allowed ({wanted})")
    # While approval is pending the approvals move the change on; the approval check tells that story.
    moved_by_approvals = CHANGE_APPROVAL_MOVES.get(change.get("type") or "", {})
    driven = change.get("approval") == "requested" and state in moved_by_approvals
    return Finding({"state": state}, f"state is {state}, expected {wanted}",
                   "" if driven else f"state {wanted} (now {state})")


def _window(change: Record, now: dt.datetime, early_start: float) -> Finding:
    start, end = _date(change, "start_date"), _date(change, "end_date")
    if start is None and end is None:
        return Finding({"window": "unplanned"}, "the change has no planned start or end, so no window applies")
    if end is not None and now >= end:
        return Finding({"window": "closed"},
                       f"the window closed {format_duration((now - end).total_seconds())} ago (end {_iso(end)})")
    closes = f", closes in {format_duration((end - now).total_seconds())}" if end is not None else ""
    if start is None or now >= start:
        return Finding({"window": "inside"}, f"inside the planned window{_span(start, end)}{closes}")
    opens = start - dt.timedelta(seconds=early_start)
    if now >= opens:
        return Finding({"window": "early"}, f"{format_duration((start - now).total_seconds())} before the planned "
                                            f"start {_iso(start)}, allowed by early_start "
                                            f"{format_duration(early_start)}{closes}")
    early = f", early_start {format_duration(early_start)}" if early_start else ""
    wait = format_duration((opens - now).total_seconds())
    return Finding({"window": "before"}, f"the window opens in {wait} (start {_iso(start)}{early})",
                   f"the window to open in {wait}", opens)


def _freeze(inputs: _Inputs) -> Finding:
    change, now, policy = inputs.change, inputs.now, inputs.policy
    end = _date(change, "end_date") if change else None
    begin = max(now, _date(change, "start_date") or now) if change else now
    horizon = max(now, end) if end is not None else now
    found = list(_blackouts(inputs.blackouts))
    if policy is not None:
        context = PolicyContext(inputs.options.environment, tuple(inputs.cis) + tuple(inputs.hosts.values()),
                                change.get("type") if change else None)
        found += policy.occurrences(now, horizon, context)
    in_window = end is not None and end > begin
    now_hits = [item for item in found if item.start <= now < item.end]
    window_hits = [item for item in found
                   if item not in now_hits and in_window and item.start < end and item.end > begin]
    if not now_hits and not window_hits:
        where = "now or the rest of the planned window" if in_window else "now"
        return Finding({"freeze": "clear"}, f"no freeze or blackout covers {where}")
    clear_at = max(item.end for item in now_hits + window_hits)
    parts = [_describe(item, now, "covers now") for item in now_hits]
    parts += [_describe(item, now, "overlaps the planned window") for item in window_hits]
    message = "; ".join(parts[:_LISTED]) + (f"; and {len(parts) - _LISTED} more" if len(parts) > _LISTED else "")
    if in_window and clear_at >= end:
        return Finding({"freeze": "rest_of_window"},
                       message + "; no time is left in the planned window after it, so reschedule the change")
    first = (now_hits + window_hits)[0]
    return Finding({"freeze": "blocked", "names": tuple(item.name for item in now_hits + window_hits)}, message,
                   f"freeze {first.name!r} to end in {format_duration((clear_at - now).total_seconds())}", clear_at)


def _blackouts(blackouts: t.Sequence[Record]) -> t.Iterator[Occurrence]:
    for item in blackouts:
        yield Occurrence(str(item.get("name") or "blackout"), parse_datetime(item["start"], "blackouts.start"),
                         parse_datetime(item["end"], "blackouts.end"), str(item.get("source") or "backend"),
                         item.get("reason"))


def _describe(item: Occurrence, now: dt.datetime, relation: str) -> str:
    reason = f": {item.reason}" if item.reason else ""
    if item.start <= now:
        when = f"ends in {format_duration((item.end - now).total_seconds())}"
    else:
        when = f"starts in {format_duration((item.start - now).total_seconds())}"
    return (f"{item.name!r} ({_iso(item.start)} to {_iso(item.end)}, {item.source}{reason}) "
            f"{relation}, {when}")


def _scope(cis: t.Sequence[str], hosts: t.Mapping[str, str]) -> Finding:
    if not hosts:
        return Finding({"scope": "no_hosts"}, "no hosts to check")
    known = {name.casefold() for name in cis}
    outside = [host if host == ci else f"{host} (CI {ci})" for host, ci in hosts.items()
               if str(ci).casefold() not in known]
    if not outside:
        return Finding({"scope": "covered"}, f"all {len(hosts)} hosts are affected CIs of the change")
    listed = ", ".join(outside[:_LISTED]) + (f" and {len(outside) - _LISTED} more" if len(outside) > _LISTED else "")
    verb = "is not an affected CI" if len(outside) == 1 else "are not affected CIs"
    return Finding({"scope": "outside", "outside": tuple(outside)},
                   f"{len(outside)} of {len(hosts)} hosts {verb} of the change: {listed}",
                   f"{listed} to be added to the change's CIs")


_FINDERS: dict[str, t.Callable[[_Inputs], Finding]] = {
    "approval": lambda inputs: _approval(inputs.change, inputs.approvals),
    "state": lambda inputs: _state(inputs.change, inputs.options.allowed_states),
    "window": lambda inputs: _window(inputs.change, inputs.now, inputs.options.early_start),
    "freeze": _freeze,
    "scope": lambda inputs: _scope(inputs.cis, inputs.hosts),
}


def _date(record: Record | None, field: str) -> dt.datetime | None:
    value = (record or {}).get(field)
    return parse_datetime(value, field) if value not in (None, "") else None


def _iso(value: dt.datetime) -> str:
    return format_datetime(value) or ""


def _span(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start and end:
        return f" ({_iso(start)} to {_iso(end)})"
    return f" (from {_iso(start)})" if start else f" (until {_iso(end)})"


# -- clock -----------------------------------------------------------------------------------------

class Clock:
    """Wall time for the checks, monotonic time for the timeout, and sleeping; tests pass a fake."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))
