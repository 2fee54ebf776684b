# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The change_metrics filter: the figures of playbooks/change_report.yml, computed in Python (issue 19).

The template only renders what this returns: every count, rate, median, unit, plural, comparison, empty state
and chart coordinate is decided here, so the same records give the same report from every backend.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: change_metrics
short_description: The figures of a change report (DORA measures and more) from change and incident records
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - Takes the changes and incidents that M(opsgate.itsm.change_request_info) and M(opsgate.itsm.incident_info)
    return (with O(opsgate.itsm.change_request_info#module:include=[approvals, notes]) for the figures that
    need them) and returns the figures of C(playbooks/change_report.yml), for the period and for the period of the
    same length just before it.
  - A record belongs to the period it was opened in (its C(opened_at)), and to that period's week.
  - The five DORA measures.
    Deployment frequency, changes closed (deployed) per week.
    Change lead time, the median time from the commit (where the change knows its pipeline's commit time) or else
    from the change's opening, to its deployment (the change gate's move to implement, else the change's close).
    Failed-deployment recovery time, the median time from the opening of an incident caused by a change to its
    resolution.
    Change fail rate, the closed changes closed unsuccessful or named as the cause of an incident, over the closed
    changes.
    Rework rate, the closed emergency changes raised to fix an incident (their summary, description or
    justification names an incident), over the closed changes.
  - Besides them, approval wait (the median time from opening to the last approval decision), the share of
    emergency changes, of rejected changes (among those that went for approval), of unsuccessful changes (among
    the closed), the change gate's refusals by reason (from the gate's work notes), recorder runs without a change
    gate, and the failures that recurred (per incident signature, the recorder's correlation id), with those at
    or past O(problem_after) occurrences marked as problem candidates.
  - Broken down by week, by assignment group and by CI system (the CI system that ran the deployment, where the
    change knows its pipeline), each compared with the previous period.
  - Durations are written in the unit that fits them (s, min, h, days), counts with the right singular or plural,
    and a figure that cannot be computed says why.
positional: _input, incidents
options:
  _input:
    description:
      - The changes, as M(opsgate.itsm.change_request_info) returns them in
        RV(opsgate.itsm.change_request_info#module:records).
    type: list
    elements: dict
    required: true
  incidents:
    description:
      - The incidents, as M(opsgate.itsm.incident_info) returns them in
        RV(opsgate.itsm.incident_info#module:records).
    type: list
    elements: dict
    required: true
  since:
    description: The start of the period, ISO 8601 with a timezone.
    type: str
    required: true
  until:
    description: The end of the period, ISO 8601 with a timezone.
    type: str
    required: true
  previous_since:
    description:
      - The start of the previous period, which ends at O(since).
      - Defaults to a period of the same length as O(since) to O(until).
    type: str
  problem_after:
    description: A failure signature that occurred this many times or more is a problem candidate.
    type: int
    default: 3
"""

EXAMPLES = r"""
- name: Read the changes and incidents of the last 60 days, with approvals and notes
  opsgate.itsm.change_request_info:
    opened_after: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now().timestamp() - 60 * 86400, utc=true) }}"
    include: [approvals, notes]
  register: changes

- name: The incidents of the same days, with their recurrence notes
  opsgate.itsm.incident_info:
    opened_after: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now().timestamp() - 60 * 86400, utc=true) }}"
    include: [notes]
  register: incidents

- name: The last 30 days compared with the 30 before
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.current.text }} (before: {{ item.previous.text }})"
  loop: "{{ (changes.records | opsgate.itsm.change_metrics(incidents.records, since=since, until=until)).measures }}"
  loop_control:
    label: "{{ item.key }}"
  vars:
    since: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now().timestamp() - 30 * 86400, utc=true) }}"
    until: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now().timestamp(), utc=true) }}"
"""

RETURN = r"""
_value:
  description: The report's figures.
  type: dict
  contains:
    period:
      description: C(since), C(until), C(previous_since) (ISO 8601), C(days) and C(text), the period in words.
      type: dict
    counts:
      description: C(changes) and C(incidents) opened in the period, and C(text), both in words.
      type: dict
    measures:
      description:
        - Each measure as C(key), C(name), C(definition) (one line), C(dora) (one of the five DORA measures),
          C(current) and C(previous) (each C(value), a number or null, C(text), C(basis), what it was computed
          from, and C(empty), why there is no value, or null), C(change), the comparison in words, and C(trend),
          V(better), V(worse) or null.
        - Keys C(deployment_frequency), C(change_lead_time), C(recovery_time), C(change_fail_rate),
          C(rework_rate), C(approval_wait), C(emergency_share), C(rejected_share), C(unsuccessful_share).
      type: list
      elements: dict
    weeks:
      description: The period's weeks, C(label) and C(start), and C(charts), one per DORA measure with its
        values per week and the coordinates of an inline SVG line chart.
      type: dict
    by_group:
      description: The DORA measures per assignment group, C(columns) and C(rows) (C(name), C(cells) with
        C(current) and C(previous) texts).
      type: dict
    by_ci:
      description: The same per CI system that ran the deployment.
      type: dict
    refusals:
      description: The change gate's refusals per reason (C(reason), C(current), C(previous)), C(total) and
        C(empty).
      type: dict
    runs_without_change:
      description: Recorder runs that passed no change gate, C(current) and C(previous), each C(value),
        C(runs) and C(text).
      type: dict
    repeat_failures:
      description: Per failure signature of the period, C(signature), C(incidents), C(occurrences),
        C(summary), C(problem_candidate); with C(threshold) and C(empty).
      type: dict
    changes:
      description: A row per change of the period, for the change table.
      type: list
      elements: dict
    incidents:
      description: A row per incident of the period, for the incident table.
      type: list
      elements: dict
    outcomes:
      description: The period's changes per outcome, C(key), C(label), C(count) and the bar's C(width) in %.
      type: list
      elements: dict
    timeline:
      description: The coordinates of the change timeline (a viewBox 1000 wide).
      type: dict
"""

import dataclasses
import datetime as dt
import math
import re
import statistics
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline

Record = t.Mapping[str, t.Any]

# What the recorder, the change gate and a deduplicated incident write (module_utils/_recorder.py,
# runners/change_gate.py, _lookup.py), as the backends hold it. Kept as text here: a filter stays off the domain's
# internals; only the pipeline values are read with their own reader (module_utils/_pipeline.py), the one rule.
RECORDER_INCIDENT_PREFIX = "ansible-failure-"
GATE_PASSED = re.compile(r"^Change gate passed at (\S+); moving to (\w+)\.")
GATE_REFUSED = re.compile(r"^Change gate refused at (\S+): ([\w, ]+)\.")
RECURRENCE = re.compile(r"^Recurrence #(\d+)")
GATE_REASONS = ("approval", "state", "window", "freeze", "scope")

WEEK = 7 * 86400
# The line charts' and the timeline's viewBox sizes (the page scales them to its width).
CHART_WIDTH = 320
CHART_HEIGHT = 140
CHART_PAD = 28
TIMELINE_WIDTH = 1000
TIMELINE_LEFT = 130
TIMELINE_ROW = 26
NO_GROUP = "(no group)"
NO_CI = "(no pipeline)"
SYSTEM_LABELS = {system.name: system.label for system in pipeline.SYSTEMS}
PLURALS = {"day": "days", "week": "weeks", "change": "changes", "incident": "incidents", "run": "runs",
           "deployment": "deployments", "refusal": "refusals", "occurrence": "occurrences"}


# -- words and units ---------------------------------------------------------------------------------

def plural(count: float, word: str) -> str:
    """``1 change``, ``2 changes``, ``0 changes``."""
    number = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{number} {word if count == 1 else PLURALS.get(word, word + 's')}"


def duration_text(seconds: float | None) -> str:
    """A duration in the unit that fits it: 45 s, 12 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return "none"
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{round(seconds)} s"
    if seconds < 3600:
        return _decimal(seconds / 60) + " min"
    if seconds < 86400:
        return _decimal(seconds / 3600) + " h"
    days = seconds / 86400
    return _decimal(days) + (" day" if _decimal(days) == "1" else " days")


def _decimal(value: float) -> str:
    """One decimal below ten (4.5), none from ten on (45); a trailing .0 dropped."""
    text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
    return text[:-2] if text.endswith(".0") else text


def percent_text(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f} %"


def rate_text(value: float | None) -> str:
    return "none" if value is None else f"{_decimal(value) if value else '0'} a week"


# -- reading records ---------------------------------------------------------------------------------

def parse_time(value: t.Any) -> dt.datetime | None:
    """ISO 8601 (a Z or offset) or ServiceNow's raw ``YYYY-MM-DD HH:MM:SS`` (UTC); None when empty or unreadable."""
    if not value:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip().replace(" ", "T", 1)
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _required_time(value: t.Any, option: str) -> dt.datetime:
    parsed = parse_time(value) if isinstance(value, (str, dt.datetime)) else None
    if parsed is None or (isinstance(value, str) and not re.search(r"(Z|[+-]\d\d:?\d\d)$", value.strip())):
        raise AnsibleFilterError(f"change_metrics: {option}: {value!r} is not valid; expected an ISO 8601 date and "
                                 "time with a timezone, like 2026-11-24T10:00:00Z")
    return parsed


def pipeline_values(record: Record) -> dict[str, t.Any]:
    """The change's pipeline values (``system``, ``commit_time``, ``gate_used``...), {} when it has none."""
    return dict(pipeline.read(record) or {})


def notes_of(record: Record) -> list[Record]:
    return [note for note in record.get("notes") or [] if isinstance(note, t.Mapping)]


def work_notes(record: Record) -> t.Iterator[tuple[str, Record]]:
    for note in notes_of(record):
        if note.get("field", "work_notes") == "work_notes":
            yield str(note.get("text") or "").strip(), note


def gate_moved_at(change: Record) -> dt.datetime | None:
    """When the change gate moved the change to implement (its pass note), or None."""
    for text, _note in work_notes(change):
        match = GATE_PASSED.match(text)
        if match and match.group(2) == "implement":
            return parse_time(match.group(1))
    return None


def gate_refusals(change: Record) -> list[tuple[str, ...]]:
    """The failing checks of each refusal note the change gate wrote on the change."""
    refusals = []
    for text, _note in work_notes(change):
        match = GATE_REFUSED.match(text)
        if match:
            refusals.append(tuple(name.strip() for name in match.group(2).split(",") if name.strip() in GATE_REASONS))
    return refusals


@dataclasses.dataclass(frozen=True)
class ChangeFacts:
    """What the figures need of one change, read from it once (its pipeline block and notes are parsed here)."""

    ci: str
    start: dt.datetime | None  # the commit where the change knows it, else its opening
    from_commit: bool
    deployed: dt.datetime | None  # the change gate's move to implement, else its close
    rework: bool  # an emergency change that names an incident
    gated: bool | None  # whether a change gate ran in the recorder run that ended it; None: no run ended it

    @classmethod
    def of(cls, change: Record, incident_numbers: t.AbstractSet[str]) -> "ChangeFacts":
        values = pipeline_values(change)
        system = values.get("system")
        commit = parse_time(values.get("commit_time"))
        closed = parse_time(change.get("closed_at")) if change.get("state") == "closed" else None
        text = " ".join(str(change.get(name) or "") for name in ("short_description", "description", "justification"))
        # Words as a number is written: an incident number inside a longer one (INC00000012) is not named.
        named = bool(set(re.split(r"[^\w-]+", text)) & incident_numbers)
        used = values.get("gate_used")
        return cls(ci=SYSTEM_LABELS.get(system, system) if system else NO_CI,
                   start=commit or parse_time(change.get("opened_at")), from_commit=commit is not None,
                   deployed=gate_moved_at(change) or closed, rework=change.get("type") == "emergency" and named,
                   gated=None if used is None else bool(used))


def resolved_at(incident: Record) -> dt.datetime | None:
    if incident.get("state") not in ("resolved", "closed"):
        return None
    return parse_time((incident.get("fields") or {}).get("resolved_at")) or parse_time(incident.get("closed_at"))


def occurrences(incident: Record) -> int:
    """How often the incident's failure happened: once, plus its recurrences (the highest ``Recurrence #N``, or
    one more than their count when the numbers are missing)."""
    numbers = [int(match.group(1)) for text, _note in work_notes(incident) if (match := RECURRENCE.match(text))]
    return max([1, len(numbers) + 1, *numbers])


# -- the period's figures ---------------------------------------------------------------------------

@dataclasses.dataclass
class Figure:
    value: float | None
    text: str
    basis: str
    empty: str | None = None

    def to_dict(self) -> dict[str, t.Any]:
        return dataclasses.asdict(self)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _share(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


class Slice:
    """The changes and incidents of one period (or one week, group or CI system), and the figures of them."""

    def __init__(self, changes: list[Record], incidents: list[Record], caused: set[str],
                 facts: t.Mapping[int, ChangeFacts], days: float, approvals_read: bool):
        self.changes, self.incidents = changes, incidents
        self.caused, self.facts = caused, facts
        self.days, self.approvals_read = days, approvals_read
        self.closed = [c for c in changes if c.get("state") == "closed"]

    def failed(self, change: Record) -> bool:
        return change.get("close_code") == "unsuccessful" or change.get("number") in self.caused

    def rework(self, change: Record) -> bool:
        return self.facts[id(change)].rework

    def figure(self, key: str) -> Figure:
        return getattr(self, key)()

    def deployment_frequency(self) -> Figure:
        deployed = len(self.closed)
        basis = f"{plural(deployed, 'deployment')} in {plural(round(self.days, 1), 'day')}"
        if not self.changes:
            return Figure(None, "none", basis, "no change was opened")
        rate = deployed / (self.days / 7.0)
        return Figure(rate, rate_text(rate), basis)

    def change_lead_time(self) -> Figure:
        times, from_commit = [], 0
        for change in self.changes:
            facts = self.facts[id(change)]
            if facts.deployed is None or facts.start is None or facts.deployed < facts.start:
                continue
            times.append((facts.deployed - facts.start).total_seconds())
            from_commit += facts.from_commit
        basis = f"median of {plural(len(times), 'change')}, {from_commit} from the commit"
        if not times:
            return Figure(None, "none", basis, "no change was deployed" if self.changes else "no change was opened")
        value = _median(times)
        return Figure(value, duration_text(value), basis)

    def recovery_time(self) -> Figure:
        times = []
        failures = [i for i in self.incidents if i.get("caused_by")]
        for incident in failures:
            opened, resolved = parse_time(incident.get("opened_at")), resolved_at(incident)
            if opened and resolved and resolved >= opened:
                times.append((resolved - opened).total_seconds())
        basis = f"median of {plural(len(times), 'incident')} caused by a change and resolved"
        if not times:
            untimed = sum(i.get("state") in ("resolved", "closed") for i in failures)
            why = (f"the backend gave no resolution time for the {plural(untimed, 'resolved incident')}" if untimed
                   else "the incidents caused by a change are not resolved yet" if failures
                   else "no incident was caused by a change")
            return Figure(None, "none", basis, why)
        value = _median(times)
        return Figure(value, duration_text(value), basis)

    def _closed_share(self, count: int, what: str) -> Figure:
        value = _share(count, len(self.closed))
        basis = f"{count} of {plural(len(self.closed), 'closed change')}: {what}"
        if value is None:
            return Figure(None, "none", basis, "no change was closed")
        return Figure(value, percent_text(value), basis)

    def change_fail_rate(self) -> Figure:
        return self._closed_share(sum(self.failed(c) for c in self.closed), "unsuccessful or causing an incident")

    def rework_rate(self) -> Figure:
        return self._closed_share(sum(self.rework(c) for c in self.closed), "emergency fixes of an incident")

    def unsuccessful_share(self) -> Figure:
        return self._closed_share(sum(c.get("close_code") == "unsuccessful" for c in self.closed),
                                  "closed unsuccessful")

    def approval_wait(self) -> Figure:
        times = []
        for change in self.changes:
            decided = [parse_time(a.get("decided_at")) for a in change.get("approvals") or []]
            decided = [moment for moment in decided if moment is not None]
            opened = parse_time(change.get("opened_at"))
            if decided and opened and max(decided) >= opened:
                times.append((max(decided) - opened).total_seconds())
        basis = f"median of {plural(len(times), 'change')} with a decision"
        if not times:
            why = ("no change was opened" if not self.changes
                   else "the approvals were not read (report_include_approvals is false)" if not self.approvals_read
                   else "no approval was decided")
            return Figure(None, "none", basis, why)
        value = _median(times)
        return Figure(value, duration_text(value), basis)

    def emergency_share(self) -> Figure:
        count = sum(c.get("type") == "emergency" for c in self.changes)
        value = _share(count, len(self.changes))
        basis = f"{count} of {plural(len(self.changes), 'change')}"
        if value is None:
            return Figure(None, "none", basis, "no change was opened")
        return Figure(value, percent_text(value), basis)

    def rejected_share(self) -> Figure:
        # A standard change is approved in advance (its approval reads approved): it never went for approval.
        asked = [c for c in self.changes if c.get("type") != "standard"
                 and (c.get("approval") in ("requested", "approved", "rejected") or c.get("approvals"))]
        rejected = sum(c.get("approval") == "rejected"
                       or any(a.get("state") == "rejected" for a in c.get("approvals") or []) for c in asked)
        value = _share(rejected, len(asked))
        basis = f"{rejected} of {plural(len(asked), 'change')} that went for approval"
        if value is None:
            return Figure(None, "none", basis, "no change went for approval")
        return Figure(value, percent_text(value), basis)


MEASURES = (
    ("deployment_frequency", "Deployment frequency", True, "higher",
     "Changes closed (deployed) per week."),
    ("change_lead_time", "Change lead time", True, "lower",
     "Median time from the commit (where the change knows it) or else the change's opening, to its deployment "
     "(the change gate's move to implement, else its close)."),
    ("recovery_time", "Failed-deployment recovery time", True, "lower",
     "Median time from the opening of an incident caused by a change to its resolution."),
    ("change_fail_rate", "Change fail rate", True, "lower",
     "Closed changes that were closed unsuccessful or caused an incident, over the changes closed."),
    ("rework_rate", "Rework rate", True, "lower",
     "Closed emergency changes raised to fix an incident (they name it), over the changes closed."),
    ("approval_wait", "Approval wait", False, "lower",
     "Median time from a change's opening to its last approval decision."),
    ("emergency_share", "Emergency changes", False, "lower", "Emergency changes over the changes opened."),
    ("rejected_share", "Rejected changes", False, "lower",
     "Changes rejected at least once, over the changes that went for approval."),
    ("unsuccessful_share", "Unsuccessful changes", False, "lower",
     "Changes closed unsuccessful, over the changes closed."),
)
DORA = tuple(key for key, _name, dora, _better, _definition in MEASURES if dora)
# A change's outcome, as the outcome bars and the change table name it.
OUTCOMES = {"successful": "Successful", "successful_issues": "Successful with issues", "failed": "Caused an incident",
            "unsuccessful": "Unsuccessful", "open": "Not closed"}
KINDS = {"deployment_frequency": "rate", "change_lead_time": "duration", "recovery_time": "duration",
         "approval_wait": "duration"}


def comparison(key: str, better: str, current: Figure, previous: Figure) -> str:
    """The period against the previous one in words (never by colour alone)."""
    if current.value is None:
        return "no comparison: this period has none"
    if previous.value is None:
        return "no comparison: the previous period has none"
    delta = current.value - previous.value
    kind = KINDS.get(key, "percent")
    if abs(delta) < 1e-9:
        return "unchanged"
    if kind == "duration":
        size = duration_text(abs(delta)) + (" longer" if delta > 0 else " shorter")
    elif kind == "rate":
        size = f"{_decimal(abs(delta))} a week {'more' if delta > 0 else 'fewer'}"
    else:
        size = f"{abs(delta):.1f} points {'up' if delta > 0 else 'down'}"
    improved = (delta > 0) == (better == "higher")
    return f"{size} ({'better' if improved else 'worse'})"


# -- charts ------------------------------------------------------------------------------------------

def line_chart(values: list[float | None], kind: str) -> dict[str, t.Any]:
    """Coordinates of a small line chart of one value per week: segments (gaps where there is no value) and
    a labelled point per week; ``kind`` (duration, count or percent) says how a value is written."""
    known = [v for v in values if v is not None]
    top = max(known + [0.0]) or 1.0
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    step = inner_w / max(len(values) - 1, 1)
    points, segments, current = [], [], []
    for index, value in enumerate(values):
        x = CHART_PAD + step * index if len(values) > 1 else CHART_WIDTH / 2
        if value is None:
            points.append(dict(x=round(x, 1), y=None, text="none"))
            if current:
                segments.append(current)
            current = []
            continue
        y = CHART_PAD + inner_h * (1 - value / top)
        text = {"duration": duration_text, "count": lambda v: f"{v:g}"}.get(kind, percent_text)(value)
        points.append(dict(x=round(x, 1), y=round(y, 1), text=text))
        current.append(f"{x:.1f},{y:.1f}")
    if current:
        segments.append(current)
    return dict(width=CHART_WIDTH, height=CHART_HEIGHT, baseline=CHART_HEIGHT - CHART_PAD,
                segments=[" ".join(segment) for segment in segments if len(segment) > 1], points=points)


class Report:
    """The records split into the period and the one before it, and every part of the report computed from them."""

    def __init__(self, changes, incidents, since, until, previous_since, problem_after):
        self.since, self.until, self.previous_since = since, until, previous_since
        self.problem_after = problem_after
        changes, incidents = _unique(changes, "changes"), _unique(incidents, "incidents")
        self.approvals_read = any("approvals" in c for c in changes)
        self.notes_read = any("notes" in c for c in changes)
        self.caused = {str(i["caused_by"]) for i in incidents if i.get("caused_by")}
        numbers = {str(i["number"]) for i in incidents if i.get("number")}
        self.facts = {id(change): ChangeFacts.of(change, numbers) for change in changes}
        self.changes = {name: [c for c in changes if self.period_of(c) == name] for name in ("current", "previous")}
        self.incidents = {name: [i for i in incidents if self.period_of(i) == name] for name in ("current", "previous")}
        self.days = (until - since).total_seconds() / 86400
        self.previous_days = (since - previous_since).total_seconds() / 86400

    def period_of(self, record: Record) -> str | None:
        opened = parse_time(record.get("opened_at"))
        if opened is None:
            return None
        if self.since <= opened <= self.until:
            return "current"
        return "previous" if self.previous_since <= opened < self.since else None

    def slice(self, period: str, changes=None, incidents=None, days=None) -> Slice:
        return Slice(self.changes[period] if changes is None else changes,
                     self.incidents[period] if incidents is None else incidents,
                     self.caused, self.facts, days or (self.days if period == "current" else self.previous_days),
                     self.approvals_read)

    def measures(self) -> list[dict[str, t.Any]]:
        current, previous = self.slice("current"), self.slice("previous")
        rows = []
        for key, name, dora, better, definition in MEASURES:
            now, before = current.figure(key), previous.figure(key)
            change = comparison(key, better, now, before)
            trend = "better" if change.endswith("(better)") else "worse" if change.endswith("(worse)") else None
            rows.append(dict(key=key, name=name, dora=dora, better=better, definition=definition,
                             current=now.to_dict(), previous=before.to_dict(), change=change, trend=trend))
        return rows

    def weeks(self) -> dict[str, t.Any]:
        count = max(math.ceil((self.until - self.since).total_seconds() / WEEK - 1e-9), 1)
        weeks = []
        for index in range(count):
            start = self.since + dt.timedelta(seconds=WEEK * index)
            end = min(start + dt.timedelta(seconds=WEEK), self.until)
            days = max((end - start).total_seconds() / 86400, 1e-6)
            last = index == count - 1
            changes = [c for c in self.changes["current"] if _within(c, start, end, last)]
            incidents = [i for i in self.incidents["current"] if _within(i, start, end, last)]
            weeks.append(dict(start=_iso(start), label=start.strftime("%d %b"), days=round(days, 1),
                              slice=self.slice("current", changes, incidents, days)))
        charts = []
        for key, name, _dora, _better, _definition in (measure for measure in MEASURES if measure[2]):
            values = []
            for week in weeks:
                figure = week["slice"].figure(key)
                # A partial week's frequency would read low: the chart shows the week's deployments instead.
                values.append(float(len(week["slice"].closed)) if key == "deployment_frequency" else figure.value)
            title = "Deployments" if key == "deployment_frequency" else name
            kind = "count" if key == "deployment_frequency" else KINDS.get(key, "percent")
            charts.append(dict(key=key, name=title, values=values, chart=line_chart(values, kind)))
        return dict(weeks=[dict(start=w["start"], label=w["label"], days=w["days"]) for w in weeks], charts=charts)

    def breakdown(self, name_of: t.Callable[[Record], str]) -> dict[str, t.Any]:
        """The DORA measures of each name's changes (and the incidents they caused), in both periods."""
        name_of_number = {c.get("number"): name_of(c) for period in self.changes.values() for c in period}
        rows = []
        for name in sorted(set(name_of_number.values())):
            slices = {}
            for period in ("current", "previous"):
                changes = [c for c in self.changes[period] if name_of_number[c.get("number")] == name]
                incidents = [i for i in self.incidents[period] if name_of_number.get(i.get("caused_by")) == name]
                slices[period] = self.slice(period, changes, incidents)
            cells = []
            for key in DORA:
                now, before = slices["current"].figure(key), slices["previous"].figure(key)
                cells.append(dict(key=key, current=now.text, previous=before.text, basis=now.basis))
            rows.append(dict(name=name, changes=len(slices["current"].changes), cells=cells))
        columns = [dict(key=key, name=name) for key, name, dora, _b, _d in MEASURES if dora]
        return dict(columns=columns, rows=rows, empty=None if rows else "no change was opened in either period")

    def refusals(self) -> dict[str, t.Any]:
        counts = {period: {reason: 0 for reason in GATE_REASONS} for period in ("current", "previous")}
        totals = {"current": 0, "previous": 0}
        for period in ("current", "previous"):
            for change in self.changes[period]:
                for reasons in gate_refusals(change):
                    totals[period] += 1
                    for reason in reasons:
                        counts[period][reason] += 1
        empty = None
        if not self.changes["current"]:
            empty = "no change was opened in the period"
        elif not self.notes_read:
            empty = "the changes' work notes were not read (report_include_notes is false), and the gate writes there"
        elif not totals["current"]:
            empty = "the change gate recorded no refusal on the changes of the period"
        return dict(rows=[dict(reason=r, current=counts["current"][r], previous=counts["previous"][r])
                          for r in GATE_REASONS],
                    total=dict(current=totals["current"], previous=totals["previous"],
                               text=plural(totals["current"], "refusal")), empty=empty)

    def runs_without_change(self) -> dict[str, t.Any]:
        result = {}
        for period in ("current", "previous"):
            runs = [self.facts[id(c)] for c in self.changes[period] if self.facts[id(c)].gated is not None]
            ungated = sum(not facts.gated for facts in runs)
            text = (f"{ungated} of {plural(len(runs), 'recorder run')}" if runs
                    else "none: the recorder logged no run")
            result[period] = dict(value=ungated, runs=len(runs), text=text)
        return result

    def repeat_failures(self) -> dict[str, t.Any]:
        signatures: dict[str, dict[str, t.Any]] = {}
        for incident in self.incidents["current"]:
            key = str(incident.get("correlation_id") or "")
            if not key.startswith(RECORDER_INCIDENT_PREFIX):
                continue
            entry = signatures.setdefault(key, dict(signature=key, incidents=[], occurrences=0,
                                                    summary=incident.get("short_description") or "",
                                                    problem=None))
            entry["incidents"].append(incident.get("number"))
            entry["occurrences"] += occurrences(incident)
            entry["problem"] = entry["problem"] or incident.get("problem")
        rows = sorted(signatures.values(), key=lambda row: (-row["occurrences"], row["signature"]))
        for row in rows:
            row["problem_candidate"] = row["occurrences"] >= self.problem_after
            row["text"] = plural(row["occurrences"], "occurrence")
        empty = "no incident of the period was raised by the recorder" if not rows else None
        return dict(rows=rows, threshold=self.problem_after, empty=empty,
                    candidates=sum(row["problem_candidate"] for row in rows))

    def change_rows(self) -> list[dict[str, t.Any]]:
        current = self.slice("current")
        rows = []
        for change in self.changes["current"]:
            caused_incidents = [i.get("number") for period in self.incidents.values() for i in period
                                if i.get("caused_by") == change.get("number")]
            rows.append(dict(number=change.get("number"), summary=change.get("short_description") or "",
                             type=change.get("type"), group=change.get("assignment_group") or NO_GROUP,
                             ci=self.facts[id(change)].ci, state=change.get("state"),
                             approval=change.get("approval"), close_code=change.get("close_code") or "-",
                             outcome=_outcome(change, current), outcome_label=OUTCOMES[_outcome(change, current)],
                             incidents=", ".join(caused_incidents) or "-",
                             opened=change.get("opened_at")))
        return rows

    def incident_rows(self) -> list[dict[str, t.Any]]:
        rows = []
        for incident in self.incidents["current"]:
            opened, resolved = parse_time(incident.get("opened_at")), resolved_at(incident)
            rows.append(dict(number=incident.get("number"), summary=incident.get("short_description") or "",
                             priority=incident.get("priority"), state=incident.get("state"),
                             opened=incident.get("opened_at"), caused_by=incident.get("caused_by") or "-",
                             occurrences=occurrences(incident),
                             restored=duration_text((resolved - opened).total_seconds())
                             if opened and resolved else "-"))
        return rows

    def outcomes(self) -> list[dict[str, t.Any]]:
        current = self.slice("current")
        counts = {key: 0 for key in OUTCOMES}
        for change in self.changes["current"]:
            counts[_outcome(change, current)] += 1
        top = max(list(counts.values()) + [1])
        return [dict(key=key, label=label, count=counts[key], text=plural(counts[key], "change"),
                     width=round(100.0 * counts[key] / top, 1)) for key, label in OUTCOMES.items()]

    def timeline(self) -> dict[str, t.Any]:
        span = max((self.until - self.since).total_seconds(), 1.0)
        inner = TIMELINE_WIDTH - TIMELINE_LEFT - 10

        def x(moment):
            moment = min(max(moment, self.since), self.until)
            return round(TIMELINE_LEFT + inner * (moment - self.since).total_seconds() / span, 1)

        current = self.slice("current")
        rows = []
        for index, change in enumerate(self.changes["current"]):
            start = parse_time(change.get("start_date")) or parse_time(change.get("opened_at"))
            end = (parse_time(change.get("end_date")) or parse_time(change.get("closed_at"))
                   or parse_time(change.get("updated_at")) or start)
            y = 10 + TIMELINE_ROW * index
            approvals = [dict(x=x(moment), text=f"{a.get('approver')} {a.get('state')} {a.get('decided_at')}")
                         for a in change.get("approvals") or [] if (moment := parse_time(a.get("decided_at")))]
            incidents = [dict(number=i.get("number"), x=x(parse_time(i.get("opened_at")) or start),
                              text=f"{i.get('number')} {i.get('short_description') or ''} ({i.get('state')})")
                         for i in self.incidents["current"] if i.get("caused_by") == change.get("number")]
            left = x(start)
            text = (f"{change.get('number')} {change.get('short_description') or ''}: {_iso(start)} to {_iso(end)}, "
                    f"{change.get('state')} {change.get('close_code') or ''}")
            rows.append(dict(number=change.get("number"), y=y, x=left, width=max(x(end) - left, 3),
                             outcome=_outcome(change, current), approvals=approvals, incidents=incidents, text=text))
        ticks = []
        moment = self.since
        while moment < self.until:
            ticks.append(dict(x=x(moment), label=moment.strftime("%d %b")))
            moment += dt.timedelta(seconds=WEEK)
        height = 30 + TIMELINE_ROW * len(rows)
        return dict(width=TIMELINE_WIDTH, height=height + 20, axis=height, rows=rows, left=TIMELINE_LEFT, ticks=ticks,
                    start=_iso(self.since), end=_iso(self.until))

    def to_dict(self) -> dict[str, t.Any]:
        weeks = self.weeks()
        changes, incidents = len(self.changes["current"]), len(self.incidents["current"])
        return dict(
            period=dict(since=_iso(self.since), until=_iso(self.until), previous_since=_iso(self.previous_since),
                        days=round(self.days, 1),
                        text=f"{plural(round(self.days, 1), 'day')}, {len(weeks['weeks'])} "
                             f"{'week' if len(weeks['weeks']) == 1 else 'weeks'}"),
            counts=dict(changes=changes, incidents=incidents,
                        text=f"{plural(changes, 'change')} and {plural(incidents, 'incident')}",
                        previous_text=f"{plural(len(self.changes['previous']), 'change')} and "
                                      f"{plural(len(self.incidents['previous']), 'incident')}"),
            measures=self.measures(), weeks=weeks,
            by_group=self.breakdown(lambda c: c.get("assignment_group") or NO_GROUP),
            by_ci=self.breakdown(lambda c: self.facts[id(c)].ci),
            refusals=self.refusals(), runs_without_change=self.runs_without_change(),
            repeat_failures=self.repeat_failures(), changes=self.change_rows(), incidents=self.incident_rows(),
            outcomes=self.outcomes(), timeline=self.timeline(),
        )


def _outcome(change: Record, period: Slice) -> str:
    if change.get("state") != "closed":
        return "open"
    if change.get("close_code") == "unsuccessful":
        return "unsuccessful"
    if period.failed(change):
        return "failed"
    return "successful_issues" if change.get("close_code") == "successful_issues" else "successful"


def _within(record: Record, start: dt.datetime, end: dt.datetime, last: bool) -> bool:
    opened = parse_time(record.get("opened_at"))
    return opened is not None and start <= opened and (opened < end or (last and opened <= end))


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _unique(records: t.Any, option: str) -> list[Record]:
    """The records once each (the two periods' reads may share the record opened at their boundary)."""
    if not isinstance(records, (list, tuple)) or not all(isinstance(r, t.Mapping) for r in records):
        raise AnsibleFilterError(f"change_metrics: {option}: expected a list of records (the records an info module "
                                 f"returns), got {type(records).__name__}")
    seen, unique = set(), []
    for record in records:
        key = record.get("id") or record.get("number")
        if key in seen:
            continue
        seen.add(key)
        unique.append(record)
    return sorted(unique, key=lambda r: (str(r.get("opened_at") or ""), str(r.get("number") or "")))


def change_metrics(changes, incidents, since=None, until=None, previous_since=None, problem_after=3):
    """The report's figures; see DOCUMENTATION."""
    start = _required_time(since, "since")
    end = _required_time(until, "until")
    if end <= start:
        raise AnsibleFilterError(f"change_metrics: until: {until!r} is not after since ({since!r})")
    before = start - (end - start) if previous_since is None else _required_time(previous_since, "previous_since")
    if before > start:
        raise AnsibleFilterError(f"change_metrics: previous_since: {previous_since!r} is after since ({since!r})")
    threshold = problem_after
    if isinstance(threshold, str) and re.fullmatch(r"\s*[0-9]+\s*", threshold):
        threshold = int(threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise AnsibleFilterError(f"change_metrics: problem_after: {problem_after!r} is not valid; expected a "
                                 "whole number, 1 or more")
    return Report(changes, incidents, start, end, before, threshold).to_dict()


class FilterModule:
    """opsgate.itsm filters."""

    def filters(self):
        return {"change_metrics": change_metrics}
