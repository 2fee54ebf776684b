# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Creating, updating and moving changes and incidents on a ServiceNow instance. FOR INTERNAL COLLECTION USE ONLY.

- Requests: create a change with CIs <= 3 (names, POST, CI rows); update or transition 1 (+1 for
  unresolved names).
- A create sends its own sys_id; when a POST fails in a way that may have landed, the record is looked
  up (by correlation id when given, else by that sys_id) before anything is sent again. A standard
  change always carries a correlation id (``opsgate-<uuid4>`` when the task gave none) and is looked up
  by it, because the Change Management API may not keep a client-supplied sys_id.
- A record created with the task's correlation id is looked up again (one more GET, or a GET in the
  batch that writes a change's CIs): when forks created twins at once, the oldest open one is returned
  and this call's own twin is deleted (cancelled, with a work note naming the survivor, where the
  account may not delete).
- The state model is not checked here: the domain plans every step before the first write. Transitions are
  verified by the record the instance returns; the instance's business-rule refusal raises ItsmTransitionError
  naming the change, the move and the instance's message, and its data-policy refusal the canonical error
  naming the fields it lacks (mapping.MANDATORY_LABELS).
- An update or transition that also sets ``configuration_items`` resolves every name first, then sends
  the record's PATCH and only after it the CI rows: a refused write leaves the affected CIs as they were.
- Check mode sends nothing and returns the record the write would return, approximately.
"""

from __future__ import annotations

import typing as t
import uuid

from ... import _input as inputs
from ... import _lifecycle as lifecycle
from ... import _records as records
from ..._errors import ItsmNotFoundError, ItsmTransientError, ItsmTransitionError, ItsmValidationError
from ..._http import ItsmHttpError, Response
from ..._lookup import JournalTexts
from . import mapping
from . import query
from .client import TABLE_API, ServiceNowClient, url
from .codec import RecordCodec, label
from .journal import Journal
from .names import Names
from .reads import RecordReader

Record = dict[str, t.Any]
CHANGE = records.CHANGE

#: rows read where the instance may match more than the correlation id asked for (any case, blanks trimmed)
LOOSE_ROWS = 10


def holding(rows: t.Sequence[dict], correlation_id: str) -> list[dict]:
    """The rows whose correlation id is exactly ``correlation_id``, in their order: the instance compares text
    loosely, and a twin, or the record a failed POST created, is never another record's (``DECOY`` for ``decoy``,
    issue 14)."""
    return [row for row in rows if row.get("correlation_id") == correlation_id]


class RecordWriter:
    """Writes of changes and incidents and of a change's affected CIs."""

    def __init__(self, client: ServiceNowClient, names: Names, codec: RecordCodec, reads: RecordReader,
                 journal: Journal):
        self.client = client
        self.names = names
        self.codec = codec
        self.reads = reads
        self.journal = journal

    def create(self, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        parsed = inputs.parse_input(kind, fields, creating=True)
        self.names.resolve(kind, parsed.values, parsed.cis or [], parsed.template)
        if check_mode:
            template = self.reads.template(parsed.template) if kind == CHANGE and parsed.template else None
            return approximate_new(kind, parsed, template)
        body = self.codec.payload(kind, parsed)
        body["sys_id"] = uuid.uuid4().hex
        if kind == CHANGE and parsed.template:
            if parsed.values.get("type") not in (None, "standard"):
                raise ItsmValidationError("type", parsed.values["type"], f"a change made from template "
                                          f"{parsed.template!r} is a standard change; leave type out or set it to "
                                          "standard")
            record_id = self.create_standard(body, parsed)
            row = None
        else:
            if kind == CHANGE:
                body.setdefault("type", "normal")
            row = self.post_record(kind, body, parsed.values.get("correlation_id"))
            record_id = row["sys_id"]
        cis = parsed.cis or []
        correlation_id = parsed.values.get("correlation_id")  # the task's own: forks may have created twins
        if cis or row is None:
            # The twins are looked for in the batch that writes the CIs: a create stays at three requests.
            reads = [self.record_call(kind, record_id)] if row is None else []
            reads += [self.twins_call(kind, correlation_id)] if correlation_id else []
            bodies = self.write_cis(record_id, cis, [], reads)
            if bodies:
                row = bodies[0]["result"] if row is None else row
                twins = holding(bodies[-1]["result"], correlation_id) if correlation_id else []
                if twins and twins[0]["sys_id"] != record_id:
                    self.retire(kind, row, twins[0])
                    return records.Met(self.reads.get(kind, id=twins[0]["sys_id"])
                                       or self.codec.to_record(kind, twins[0]))
                return self.codec.to_record(kind, row, cis)
            row = row or self.reread(kind, record_id).body["result"]  # recovered after a failure: read it
        survivor = self.one_per_correlation(kind, row, correlation_id) if correlation_id else row
        record = self.codec.to_record(kind, survivor, cis)
        return record if survivor["sys_id"] == row["sys_id"] else records.Met(record)

    def update(self, kind: str, record: Record, fields: t.Mapping[str, t.Any], check_mode: bool = False,
               known_notes: JournalTexts | None = None) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        return self.write(kind, record, inputs.parse_input(kind, fields), None, check_mode, known_notes)

    def transition(self, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
                   check_mode: bool = False, known_notes: JournalTexts | None = None) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        records.require_choice("state", state, mapping.CHOICES[(kind, "state")])
        return self.write(kind, record, inputs.parse_input(kind, fields or {}), state, check_mode, known_notes)

    def write(self, kind: str, record: Record, parsed: inputs.Input, state: str | None, check_mode: bool,
              known_notes: JournalTexts | None = None) -> Record:
        """The update (``state`` None) or transition of ``record`` with ``parsed``, and its CIs after it
        (``known_notes``: what the caller's look-up read of the journal, for the guard of the notes)."""
        # The state model is the domain's (the runner planned this step before any write); what the instance
        # itself refuses (its state model, its data policies) comes back from the PATCH as the canonical error.
        moving = state is not None and state != record.get("state")
        self.names.resolve(kind, parsed.values, parsed.cis or [], None)
        if check_mode:
            return approximate_write(kind, record, parsed, state if moving else None)
        body = self.codec.payload(kind, parsed)
        if moving:
            body["state"] = mapping.CHOICES[(kind, "state")][state]
        record_id = self.reads.id_of(kind, record)
        updated = self.patch(kind, record, record_id, body, state if moving else None, known_notes) if body else (
            record if record.get("id") else self.reads.get(kind, id=record_id))
        # The CIs follow the record's own write, which the instance may still refuse (a business rule): a
        # refused task leaves the CIs as they were (issue 12). Every name was resolved above, before either.
        if parsed.cis is not None and kind == CHANGE:
            updated = self.set_affected_cis(dict(updated, id=record_id), parsed.cis)
        return updated

    def patch(self, kind: str, record: Record, record_id: str, body: dict[str, t.Any], state: str | None,
              known_notes: JournalTexts | None = None) -> Record:
        """One PATCH of the record (``state``: the transition it makes, verified from the answer)."""
        name = label(kind, record)
        moving = state is not None
        cis = record.get("configuration_items") if kind == CHANGE else None
        notes = {field: body[field] for field in inputs.NOTE_FIELDS if field in body}
        recover = (self.journal.guard(record_id, notes, lambda: self.reread(kind, record_id), known_notes)
                   if notes else None)
        try:
            answer = self.client.http.request(
                "PATCH", f"{TABLE_API}{mapping.TABLES[kind]}/{record_id}", params=self.codec.params(kind, "", 1),
                json_body=body, idempotent=not notes, recover=recover, what=f"update {name}")
        except ItsmHttpError as error:
            if moving and error.status == 403:
                missing = mapping.mandatory_fields(kind, error.reason)
                if missing:
                    raise lifecycle.missing_fields_error(name, state, missing) from None
                raise ItsmTransitionError(
                    f"state: the instance refused to move {name} from {record.get('state')} to {state}: "
                    f"{error.reason}", option="state", value=state, current_state=record.get("state")) from None
            raise
        updated = self.codec.to_record(kind, answer.body["result"], cis)
        if moving and not _reached(kind, updated, state):
            raise ItsmTransitionError(
                f"state: the instance did not move {name} from {record.get('state')} to {state}; it is in "
                f"{updated['state']} (a business rule or workflow on the instance overrode it)",
                option="state", value=state, current_state=updated["state"])
        return updated

    def reread(self, kind: str, record_id: str) -> Response:
        """The record as stored, in the shape of a write's answer (a write recovered after a failure)."""
        rows = self.client.get_rows(mapping.TABLES[kind], self.codec.params(kind, f"sys_id={record_id}", 1),
                                    f"read {kind} {record_id}")
        return Response(200, {}, {"result": rows[0]}, "")

    def post_record(self, kind: str, body: dict, correlation_id: str | None) -> dict:
        """POST a new record (Table API); the row created, found again when the POST may have landed."""
        table = mapping.TABLES[kind]
        params = self.codec.params(kind, "", 1)
        found_by = (f"correlation_id={query.escape(correlation_id)}^{query.open_condition(kind)}"
                    if correlation_id else f"sys_id={body['sys_id']}")

        def recover() -> Response | None:
            rows = self.client.get_rows(table, dict(params, sysparm_query=found_by, sysparm_limit=LOOSE_ROWS),
                                        f"look for the {kind} being created")
            rows = holding(rows, correlation_id) if correlation_id else rows
            return Response(201, {}, {"result": rows[0]}, "") if rows else None

        answer = self.client.http.request("POST", TABLE_API + table, params=params, json_body=body, idempotent=False,
                                          recover=recover, what=f"create {kind}")
        return answer.body["result"]

    def one_per_correlation(self, kind: str, row: dict, correlation_id: str) -> dict:
        """The oldest open record of ``correlation_id``; a younger twin just created is retired.

        Forks of a play (a role raising an incident on failure) may each look the correlation id up,
        find nothing and create at once. Every fork orders the twins the same way, so all of them
        keep the oldest and each retires only its own record.
        """
        rows = holding(self.client.get_rows(mapping.TABLES[kind], self.twins_params(kind, correlation_id),
                                            f"look for twins of {kind} {row.get('number')}"), correlation_id)
        survivor = rows[0] if rows else row
        if survivor["sys_id"] != row["sys_id"]:
            self.retire(kind, row, survivor)
        return survivor

    def twins_params(self, kind: str, correlation_id: str) -> dict[str, t.Any]:
        """The oldest open record holding ``correlation_id``: the one every fork keeps."""
        found_by = f"correlation_id={query.escape(correlation_id)}^{query.open_condition(kind)}" + query.OLDEST_FIRST
        return self.codec.params(kind, found_by, LOOSE_ROWS)

    def twins_call(self, kind: str, correlation_id: str) -> tuple[str, str]:
        return "GET", url(TABLE_API + mapping.TABLES[kind], self.twins_params(kind, correlation_id))

    def record_call(self, kind: str, record_id: str) -> tuple[str, str]:
        return "GET", url(f"{TABLE_API}{mapping.TABLES[kind]}/{record_id}", self.codec.params(kind, "", 1))

    def retire(self, kind: str, row: dict, survivor: dict) -> None:
        """Delete a twin nobody else has written to; where deleting is refused (itil), cancel it instead."""
        what = f"remove {row.get('number')}, a twin of {survivor.get('number')}"
        try:
            self.client.http.request("DELETE", f"{TABLE_API}{mapping.TABLES[kind]}/{row['sys_id']}", what=what)
        except ItsmNotFoundError:
            pass  # gone already: a retried DELETE that had landed
        except ItsmHttpError as error:
            if error.status != 403:
                raise
            note = (f"Duplicate of {survivor.get('number')}, created at the same time with the same correlation_id; "
                    f"the work goes on in {survivor.get('number')}.")
            twin = self.codec.to_record(kind, row)
            # The twin gives up the correlation id, so look-ups name the survivor alone (once the survivor is
            # closed too, "the newest holder" must not be the twin); a problem has no canceled state, and closing
            # one needs an owner the task may not have, so it keeps the note only.
            if kind == records.PROBLEM:
                self.update(kind, twin, {"correlation_id": None, "work_notes": note})
            else:
                self.transition(kind, twin, "canceled", {"correlation_id": None, "work_notes": note})

    def create_standard(self, body: dict, parsed: inputs.Input) -> str:
        """Create a change from a standard change template (sn_chg_rest copies it); its sys_id."""
        template_id = self.names.id("std_change_producer_version", parsed.template)
        locked = [key for key in mapping.TEMPLATE_LOCKED if key in body]
        if locked:
            self.client.warn(f"template: {parsed.template!r} sets {', '.join(locked)}; ServiceNow keeps the "
                             "template's values for those fields")
        body.pop("std_change_producer_version", None)
        body.pop("type", None)
        # Whether sn_chg_rest keeps a client-supplied sys_id is unverified (servicenow-api.md 2.7, 8.1),
        # so a failed POST is looked up by a correlation id, one of our own when the task gave none.
        body["correlation_id"] = body.get("correlation_id") or f"opsgate-{uuid.uuid4()}"
        found_by = f"correlation_id={query.escape(body['correlation_id'])}^{query.open_condition(CHANGE)}"

        def recover() -> Response | None:
            rows = holding(self.client.rows("change_request", found_by, ["sys_id", "correlation_id"], LOOSE_ROWS,
                                            "look for the change being created"), body["correlation_id"])
            return Response(200, {}, {"result": {"sys_id": {"value": rows[0]["sys_id"]}}}, "") if rows else None

        answer = self.client.http.request("POST", f"/api/sn_chg_rest/change/standard/{template_id}", json_body=body,
                                          idempotent=False, recover=recover,
                                          what=f"create a change from {parsed.template!r}")
        value = answer.body["result"]["sys_id"]
        return value["value"] if isinstance(value, dict) else value

    def set_affected_cis(self, record: Record, names: t.Sequence[str], check_mode: bool = False) -> Record:
        wanted = inputs.ci_names(names)
        change_id = self.reads.id_of(CHANGE, record)
        present, rows = self.reads.current_cis(change_id, resolve=wanted)
        added = [name for name in wanted if name not in present]
        removed = [row["sys_id"] for row in rows if row["ci_item.name"] not in wanted]
        if check_mode or not (added or removed):
            return dict(record, configuration_items=wanted)
        bodies = self.write_cis(change_id, added, removed, [self.record_call(CHANGE, change_id)])
        if not bodies:  # recovered after a failure: read it
            return self.reads.get(CHANGE, id=change_id)
        return self.codec.to_record(CHANGE, bodies[0]["result"], wanted)

    def write_cis(self, change_id: str, added: t.Sequence[str], removed: t.Sequence[str],
                  reads: t.Sequence[tuple[str, str]] = ()) -> list[t.Any]:
        """Add and remove the change's CI rows in one batch, then ``reads`` in it; the reads' bodies, or [] when
        the batch was recovered after a failure (the caller reads again)."""
        calls: list[t.Any] = [("POST", TABLE_API + "task_ci?sysparm_fields=sys_id",
                               {"task": change_id, "ci_item": self.names.id("cmdb_ci", name)}) for name in added]
        calls += [("DELETE", f"{TABLE_API}task_ci/{sys_id}") for sys_id in removed]
        calls += list(reads)

        def recover() -> Response | None:
            present = self.reads.current_cis(change_id)[0]
            if not set(added) & set(present):
                return None  # nothing landed: safe to send again
            if set(added) <= set(present):
                return Response(200, {}, None, "")
            raise ItsmTransientError(f"configuration_items: only part of the CIs of change {change_id} were "
                                     "written before the connection failed; run the task again to finish")

        bodies = self.client.batch(calls, "write affected CIs", idempotent=not added, recover=recover)
        return bodies[len(calls) - len(reads):] if bodies else []


# -- check mode ---------------------------------------------------------------------------------

def approximate_new(kind: str, parsed: inputs.Input, template: Record | None) -> Record:
    """What a create would return, without writing: check mode (``template``: the change's, as read)."""
    values = dict(parsed.values)
    if kind == CHANGE:
        values = {**((template or {}).get("fields") or {}), **values}
        values["type"] = "standard" if parsed.template else values.get("type") or "normal"
        values.update(approval="approved" if values["type"] == "standard" else "not_requested",
                      template=parsed.template, configuration_items=parsed.cis or [])
    else:
        values = {"impact": "low", "urgency": "low", **{k: v for k, v in values.items() if v is not None}}
        values.update(priority=records.priority_for(values["impact"], values["urgency"]))
        if kind == records.INCIDENT:
            values["reopen_count"] = 0
    record = {name: None for name in records.OUTPUT_FIELDS[kind]}
    record.update(values, backend=mapping.BACKEND_NAME, state="new", active=True, opened_at=inputs.now(),
                  fields=dict(parsed.extras or {}))
    return record


def approximate_write(kind: str, record: Record, parsed: inputs.Input, state: str | None) -> Record:
    """What an update or transition (to ``state``) would return, without writing: check mode.

    Predicts what the real write changes, as the local store does: the fields, the affected CIs given
    with them (issue 12), and what entering a state does to ``approval``, ``active`` and the priority.
    """
    approximate = dict(record, **parsed.values)
    if kind == CHANGE and parsed.cis is not None:
        approximate["configuration_items"] = list(parsed.cis)
    if parsed.extras:
        merged = dict(record.get("fields") or {}, **parsed.extras)
        approximate["fields"] = {key: value for key, value in merged.items() if value is not None}
    if kind != CHANGE:
        approximate["priority"] = records.priority_for(approximate.get("impact"), approximate.get("urgency"))
    if state is None:
        return approximate
    approximate["state"] = state
    if kind == CHANGE and state == lifecycle.CHANGE_APPROVAL_REQUESTED_IN.get(record.get("type") or ""):
        approximate["approval"] = "requested"
    if state in records.CLOSED_STATES[kind]:
        approximate["active"] = False
    return approximate


def _reached(kind: str, record: Record, state: str) -> bool:
    """At the target, or moved on from it by the instance's own automation (an approval engine)."""
    if record["state"] == state:
        return True
    moves = lifecycle.CHANGE_APPROVAL_MOVES.get(record.get("type") or "", {}) if kind == CHANGE else {}
    while state in moves:
        state = moves[state]
        if record["state"] == state:
            return True
    return False
