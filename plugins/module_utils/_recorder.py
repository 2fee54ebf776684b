# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the recorder callback writes, decided from a finished run. FOR INTERNAL COLLECTION USE ONLY.

Pure functions: the per-host recap -> the change's close code; failure events -> the failures no
rescue handled -> one incident per signature (a stable correlation key that leaves the message out,
so a failure that recurs run after run matches the same open incident); descriptions with secrets
redacted and long output truncated. The result is a list of outbox items (plain dicts), delivered
by _outbox.deliver.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import string
import typing as t

from . import _pipeline as pipeline
from . import _recurring as recurring
from ._errors import ItsmValidationError
from ._records import LEVELS

RECAP_KEYS = ("ok", "changed", "failures", "unreachable", "skipped", "rescued", "ignored")
DEFAULT_INCIDENT_KEY = "{playbook}/{play}/{task}/{hosts}"
KEY_FIELDS = ("playbook", "play", "task", "hosts", "host", "action", "role")
MARKER_PREFIX = "opsgate.itsm recorder attempt "
CHANGE_CORRELATION_PREFIX = "ansible-run-"
INCIDENT_CORRELATION_PREFIX = "ansible-failure-"

# The secret-bearing forms redact() hides: key=value / key: value pairs whose key names a credential, command-line
# options naming one, a password tool's -p, Authorization headers, bearer tokens, user:password@ in URLs, PEM keys.
_SECRET_WORD = r"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|private[_-]?key|credential)"
_SECRET_PAIR = re.compile(
    r"(?i)\b([\w.-]*" + _SECRET_WORD + r"[\w.-]*)"
    r"([\"']?\s*[=:]\s*)(\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'}]+)")
# A command-line option naming a secret, its value after a space: --password X, --db-token 'X'.
_SECRET_OPTION = re.compile(r"(?i)(?<![\w-])(--?[\w-]*" + _SECRET_WORD + r"[\w-]*)(\s+)(\"[^\"\n]*\"|'[^'\n]*'|(?!-)\S+)")
# -p of the tools whose -p is a password (mysql and its kin, sshpass; psql's is a port, hidden all the same):
# "-p X" and "-pX", anywhere on the tool's command line.
_TOOL_P = re.compile(r"(?i)\b((?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mariadb|mariadb-dump|"
                     r"sshpass|psql|pg_dump)\b[^\n|;&]*?\s-p)(\s*)(?!\s*-)(\S+)")
# An Authorization header: its scheme (Bearer, Basic, Token...) stays, its credentials go.
_AUTHORIZATION = re.compile(r"(?i)\b((?:proxy-)?authorization[\"']?\s*[=:]\s*[\"']?[A-Za-z-]+\s+)([^\s\"',;}]+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]+):([^/\s@]+)@")
# A PEM private key block, to its END line or, cut off, to the end of the text.
_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.S)
REDACTED = "********"


@dataclasses.dataclass
class Failure:
    """One failed or unreachable task result, as the callback saw it."""

    playbook: str
    play: str
    hosts: str
    task: str
    host: str
    action: str = ""
    role: str = ""
    message: str = ""
    unreachable: bool = False
    ignored: bool = False
    # Decided when the failure arrives: a rescue section will run for it (the recap confirms it at the end).
    rescued: bool = False
    # A task of the incident_on_failure role: the role has put the failure on record already.
    already_recorded: bool = False
    impact: str | None = None
    urgency: str | None = None
    ci_name: str | None = None


@dataclasses.dataclass
class Settings:
    """The recorder's own options (the connection is separate)."""

    incident_key: str = DEFAULT_INCIDENT_KEY
    impact: str = "medium"
    urgency: str = "medium"
    assignment_group: str | None = None
    max_message: int = 2000
    redact: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    #: raise a problem when a signature failed this often within problem_window days (0: never)
    problem_after: int = 0
    problem_window: float = recurring.DEFAULT_WINDOW_DAYS

    def __post_init__(self) -> None:
        check_key_template(self.incident_key)
        recurring.Threshold(self.problem_after, self.problem_window)
        for option, value in (("incident_impact", self.impact), ("incident_urgency", self.urgency)):
            if value not in LEVELS:
                raise ItsmValidationError(option, value, "expected one of: " + ", ".join(LEVELS))
        if self.max_message < 200:
            raise ItsmValidationError("max_message_length", self.max_message, "expected 200 characters or more")
        for pattern in self.redact:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ItsmValidationError("redact_patterns", pattern, f"not a regular expression ({exc})") from None


def check_key_template(template: str) -> None:
    """Refuse a correlation-key template naming an unknown field, before the run starts."""
    try:
        names = [name for _literal, name, _spec, _conversion in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ItsmValidationError("incident_key", template, f"not a valid template ({exc})") from None
    unknown = [name for name in names if name not in KEY_FIELDS]
    if unknown or not names:
        raise ItsmValidationError("incident_key", template, "use fields in braces from: "
                                  + ", ".join("{%s}" % name for name in KEY_FIELDS))


# -- outcome -------------------------------------------------------------------------------------

def close_code(recap: t.Mapping[str, t.Mapping[str, int]]) -> str:
    """``unsuccessful`` if any host failed for good or was unreachable; ``successful_issues`` if
    failures were rescued or ignored; else ``successful``."""
    totals = {key: sum(counts.get(key, 0) for counts in recap.values()) for key in RECAP_KEYS}
    if totals["failures"] or totals["unreachable"]:
        return "unsuccessful"
    if totals["rescued"] or totals["ignored"]:
        return "successful_issues"
    return "successful"


def unhandled(events: t.Sequence[Failure], recap: t.Mapping[str, t.Mapping[str, int]]) -> list[Failure]:
    """The failures no ``rescue`` handled and no ``ignore_errors`` excused.

    Each failure was marked ``rescued`` as it arrived (from the blocks around its task). The recap counts
    ``failures`` and ``rescued`` per host apart, so a host whose marks agree with its counts keeps them;
    a host whose marks disagree (a rescue section skipped by tags, say) falls back to the order of events:
    a host stops at its first unhandled failure, so those are its last ``failures`` events.
    """
    kept: list[Failure] = []
    for host, counts in recap.items():
        failed = [event for event in events if event.host == host and not event.ignored and not event.unreachable]
        unreachable = [event for event in events if event.host == host and event.unreachable and not event.ignored]
        kept.extend(_unrescued(failed, counts))
        kept.extend(unreachable[len(unreachable) - counts.get("unreachable", 0):] if counts.get("unreachable") else [])
    order = {id(event): index for index, event in enumerate(events)}
    return sorted(kept, key=lambda event: order[id(event)])


def _unrescued(failed: list[Failure], counts: t.Mapping[str, int]) -> list[Failure]:
    marked = [event for event in failed if not event.rescued]
    if len(marked) == counts.get("failures", 0) and len(failed) - len(marked) == counts.get("rescued", 0):
        return marked
    take = counts.get("failures", 0)
    return failed[len(failed) - take:] if take else []


# -- signatures and incidents ---------------------------------------------------------------------

def signature(failure: Failure, template: str = DEFAULT_INCIDENT_KEY) -> tuple[str, str]:
    """(key text, correlation id): the message is not part of the key, so the same failure matches
    again when its text differs (timestamps, ids); the id is a hash, short enough for any backend."""
    key = template.format(**{name: getattr(failure, name) or "" for name in KEY_FIELDS})
    return key, INCIDENT_CORRELATION_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def _level(values: t.Iterable[str | None], default: str) -> str:
    given = [value for value in values if value in LEVELS]
    return min(given, key=LEVELS.index) if given else default


def incident_items(failures: t.Sequence[Failure], settings: Settings, marker: str, run_label: str,
                   change: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """One incident item per signature; hosts and messages of the same signature are merged."""
    groups: dict[str, list[Failure]] = {}
    keys: dict[str, str] = {}
    for failure in (failure for failure in failures if not failure.already_recorded):
        key, correlation_id = signature(failure, settings.incident_key)
        groups.setdefault(correlation_id, []).append(failure)
        keys[correlation_id] = key
    items = []
    for correlation_id, group in groups.items():
        first = group[0]
        hosts = sorted({failure.host for failure in group})
        what = "unreachable" if all(failure.unreachable for failure in group) else "failed"
        short = truncate(f"Ansible task {first.task!r} {what} on {_hosts_text(hosts)} ({first.play})", 160)
        fields = dict(short_description=short,
                      description=describe(group, keys[correlation_id], settings, marker, run_label, change),
                      impact=_level((failure.impact for failure in group), settings.impact),
                      urgency=_level((failure.urgency for failure in group), settings.urgency))
        if len(hosts) == 1:
            fields["configuration_item"] = first.ci_name or hosts[0]
        if settings.assignment_group:
            fields["assignment_group"] = settings.assignment_group
        under = change.get("number") or change.get("correlation_id")
        note = (f"failed again in {run_label} on {', '.join(hosts)}" + (f" (change {under})" if under else "")
                + f": {clean(first.message, settings, 500)} [{marker}]")
        items.append(dict(type="incident", id=f"{marker}:incident:{correlation_id}", marker=marker,
                          correlation_id=correlation_id, fields=fields, change=dict(change), note=note))
        if settings.problem_after:
            # After its incident (items are delivered in order): the problem counts that occurrence.
            items.append(dict(type="problem", id=f"{marker}:problem:{correlation_id}", marker=marker,
                              correlation_id=correlation_id, change=dict(change),
                              problem_after=settings.problem_after, problem_window=settings.problem_window,
                              summary=truncate(f"Recurring failure: {short}", 160), statement=fields["description"],
                              what=f"{short}: {clean(first.message, settings, 500)}"))
    return items


def resolve_items(succeeded: t.Iterable[Failure], failed_ids: t.Collection[str], settings: Settings,
                  marker: str, run_label: str) -> list[dict[str, t.Any]]:
    """Resolve items for signatures that succeeded in this run and did not also fail in it."""
    items: dict[str, dict[str, t.Any]] = {}
    for success in succeeded:
        key, correlation_id = signature(success, settings.incident_key)
        if correlation_id in failed_ids or correlation_id in items:
            continue
        notes = f"The task {success.task!r} ({success.play}) succeeded again in {run_label}. [{marker}]"
        items[correlation_id] = dict(type="resolve", id=f"{marker}:resolve:{correlation_id}", marker=marker,
                                     correlation_id=correlation_id, close_notes=notes)
    return list(items.values())


def describe(group: t.Sequence[Failure], key: str, settings: Settings, marker: str, run_label: str,
             change: t.Mapping[str, t.Any]) -> str:
    first = group[0]
    change_text = change.get("number") or change.get("correlation_id") or "none"
    lines = [f"Playbook: {first.playbook}", f"Play: {first.play} (hosts: {first.hosts})",
             f"Task: {first.task}" + (f" (role {first.role})" if first.role else ""),
             f"Module: {first.action or 'unknown'}", f"Hosts: {', '.join(sorted({f.host for f in group}))}",
             f"Change: {change_text}", f"Run: {run_label}", f"Correlation key: {key}", ""]
    per_message = max(200, settings.max_message // max(1, len(group)))
    for failure in group:
        state = "unreachable" if failure.unreachable else "failed"
        lines.append(f"{failure.host} ({state}): {clean(failure.message, settings, per_message)}")
    lines += ["", f"[{marker}]"]
    return truncate("\n".join(lines), settings.max_message + 1000)


def _hosts_text(hosts: list[str]) -> str:
    return hosts[0] if len(hosts) == 1 else f"{len(hosts)} hosts"


# -- the change's note ---------------------------------------------------------------------------

def interrupted_note(reason: str, events: t.Sequence[Failure], settings: Settings, marker: str,
                     run_label: str, run_context: str = "") -> str:
    """The work note of a run that was stopped before its end (no recap exists then)."""
    lines = [f"Ansible run interrupted ({reason}) before it finished ({run_label}); the hosts' work may be "
             "incomplete.", ""]
    failed = [event for event in events if not event.ignored]
    if failed:
        lines.append("Task failures seen before it stopped (a rescue may have handled some):")
        lines += [f"- {event.host}: {event.task} ({event.play}): {clean(event.message, settings, 300)}"
                  for event in failed]
    if run_context:
        lines += ["", run_context]
    lines += ["", f"[{marker}]"]
    return truncate("\n".join(lines), 30000)


def undelivered_text(items: t.Sequence[t.Mapping[str, t.Any]], settings: Settings) -> str:
    """Records that could be neither sent nor queued, as JSON a person can enter by hand, secrets redacted."""
    return redact(json.dumps(list(items), sort_keys=True, default=str), settings.secrets, settings.redact)


def recap_note(recap: t.Mapping[str, t.Mapping[str, int]], failures: t.Sequence[Failure], code: str,
               settings: Settings, marker: str, run_label: str, run_context: str = "") -> str:
    """The one work note written at the end: outcome, per-host recap, the tasks that failed, and the run's
    context (``Run.context``: whether the change gate ran, the CI pipeline's block)."""
    lines = [f"Ansible run finished: {code} ({run_label}).", "",
             "host: ok changed failed unreachable skipped rescued ignored"]
    for host in sorted(recap):
        counts = recap[host]
        lines.append(f"{host}: " + " ".join(str(counts.get(key, 0)) for key in RECAP_KEYS))
    if failures:
        lines += ["", "Failed tasks:"]
        for failure in failures:
            state = "unreachable" if failure.unreachable else "failed"
            lines.append(f"- {failure.host}: {failure.task} ({failure.play}) {state}: "
                         f"{clean(failure.message, settings, 300)}")
    if run_context:
        lines += ["", run_context]
    lines += ["", f"[{marker}]"]
    return truncate("\n".join(lines), 30000)


# -- redaction and truncation --------------------------------------------------------------------

def redact(text: str, secrets: t.Iterable[str] = (), patterns: t.Iterable[str] = ()) -> str:
    """Known secrets, credential-looking pairs, bearer tokens, URL passwords and user patterns -> ********."""
    for secret in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _PRIVATE_KEY.sub(lambda match: f"-----BEGIN {match.group(1)}PRIVATE KEY----- {REDACTED}", text)
    text = _AUTHORIZATION.sub(lambda match: match.group(1) + REDACTED, text)
    text = _SECRET_PAIR.sub(lambda match: match.group(1) + match.group(2) + REDACTED, text)
    text = _SECRET_OPTION.sub(lambda match: match.group(1) + match.group(2) + REDACTED, text)
    text = _TOOL_P.sub(lambda match: match.group(1) + match.group(2) + REDACTED, text)
    text = _BEARER.sub(lambda match: match.group(1) + " " + REDACTED, text)
    text = _URL_CREDENTIALS.sub(lambda match: match.group(1) + match.group(2) + ":" + REDACTED + "@", text)
    for pattern in patterns:
        text = re.sub(pattern, REDACTED, text)
    return text


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters: the head and the tail, saying how much was left out."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    marker = f" [... {cut} characters truncated ...] "
    keep = max(0, limit - len(marker))
    head = keep * 2 // 3
    return text[:head] + marker + text[len(text) - (keep - head):] if keep - head else text[:head] + marker


def clean(text: str, settings: Settings, limit: int) -> str:
    return truncate(redact(text or "", settings.secrets, settings.redact), limit)


def result_message(result: t.Mapping[str, t.Any]) -> str:
    """The error text of a task result: msg, then stderr, then the exception's last line."""
    if result.get("_ansible_no_log") or result.get("censored"):
        return "the output was hidden by no_log"
    parts = []
    for key in ("msg", "stderr", "module_stderr", "reason"):
        value = result.get(key)
        if value and str(value) not in parts:
            parts.append(str(value))
    if not parts and result.get("exception"):
        parts.append(str(result["exception"]).strip().splitlines()[-1])
    if not parts and result.get("results"):
        parts = [result_message(item) for item in result["results"] if isinstance(item, dict) and item.get("failed")]
    return "\n".join(part for part in parts if part) or "no message"


# -- the run's change ----------------------------------------------------------------------------

@dataclasses.dataclass
class Run:
    """One ansible-playbook run: ``run_id`` is stable across restarts of a job, ``attempt`` is not."""

    run_id: str
    attempt: str
    playbook: str
    limit: str | None = None
    tags: tuple[str, ...] = ()
    change_number: str | None = None
    template: str | None = None
    assignment_group: str | None = None
    end_state: str = "closed"
    #: the CI pipeline the run is part of (_pipeline.detect: canonical keys, only those set)
    pipeline: dict[str, str] = dataclasses.field(default_factory=dict)
    #: whether a change_gate task ran in the run (set as the run goes; written at its end)
    gate_used: bool = False

    @property
    def marker(self) -> str:
        # Written into every note and description the run adds: a re-sent item finds it and adds nothing.
        return MARKER_PREFIX + self.attempt

    @property
    def label(self) -> str:
        return f"run {self.run_id}"

    @property
    def correlation_id(self) -> str:
        return CHANGE_CORRELATION_PREFIX + hashlib.sha256(self.run_id.encode("utf-8")).hexdigest()[:24]

    def change_reference(self) -> dict[str, str | None]:
        return {"number": self.change_number, "correlation_id": None if self.change_number else self.correlation_id}

    def context(self) -> str:
        """What the end of the run adds to its change's recap note: whether the gate ran, the pipeline's block
        (a change made from a template keeps the template's description, so the block reaches it here too)."""
        return "\n".join(part for part in (pipeline.gate_line(self.gate_used), pipeline.block(self.pipeline)) if part)

    def short_description(self) -> str:
        text = f"Ansible run: {self.playbook}"
        if self.limit:
            text += f", limit {self.limit}"
        if self.tags:
            text += f", tags {','.join(self.tags)}"
        return truncate(text, 160)


def change_item(run: Run, note: str | None = None, code: str | None = None,
                outcome: str = "finished") -> dict[str, t.Any]:
    """Find or create the run's change and move it to implement; with ``note`` also write it and end it
    (``outcome`` says how the run ended: ``finished``, or ``interrupted`` when it was stopped)."""
    create = dict(type="standard", short_description=run.short_description(),
                  description=pipeline.with_block(
                      f"Logged by the opsgate.itsm recorder callback for {run.label}.\n[{run.marker}]", run.pipeline))
    if run.pipeline:
        create["fields"] = pipeline.extras(run.pipeline)
    if run.template:
        create["template"] = run.template
    if run.assignment_group:
        create["assignment_group"] = run.assignment_group
    item: dict[str, t.Any] = dict(type="change", id=f"{run.marker}:change:{'end' if note else 'start'}",
                                  marker=run.marker, create=create, **run.change_reference())
    if note is not None:
        item.update(note=note, end_state=run.end_state, close_code=code,
                    close_notes=f"Ansible run {run.playbook} {outcome}: {code}. See the work notes for the recap.\n"
                                + pipeline.gate_line(run.gate_used))
    return item
