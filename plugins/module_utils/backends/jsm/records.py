# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changes and incidents as Jira issues: look-ups, finds, create, update, transition and the journal.
FOR INTERNAL COLLECTION USE ONLY.

- Look-ups: by number (the issue key) or id, one GET; by correlation id, one JQL search on the issue property
  ``opsgate.correlation_id``. A value that is no issue key (``CHG0000001``) names no issue and costs nothing.
- Cloud's search index lags behind writes: every search passes the issues created from this controller lately
  (the client's CreatedIssues, shared by the tasks' processes) in ``reconcileIssues`` (the newest 50, Cloud's
  most), so a record is found right after its creation by the next task too; a ``number`` filter reconciles the
  issues its keys name, read by GET (consistent).
- Concurrent creates of one correlation id on one controller (forks of a play) take a lock per correlation id
  (CreatedIssues.claiming) around the POST: a fork that looked the id up before the first create landed finds
  the remembered issue, still open, and returns it instead of creating a twin. Two controllers share no lock: a
  create of a correlation id then looks for an older open holder (older_twin: one search on Data Center; on
  Cloud one search and a GET of each key its lagging index does not show yet), and the younger issue gives up
  the id, is canceled naming the survivor (retire()) and its create returns the survivor, so both end on one.
- Look-ups read what they declare in the same request as the record (``include``): the journal from the issue's
  ``comment`` field (a second request only when the issue has more comments than a search returns, 20 on
  Cloud), a change's approvals and affected objects from its fields when it is read by number.
- Create: one POST (fields, CIs and properties together); update: one PUT (fields and properties). Jira answers
  neither with the issue, and what they wrote is known, so the record is built from what was sent (written():
  as the codec would read it back; a create is in the workflow's initial status, ``new``; the times are the
  site's ``Date`` answer) instead of a GET. A POST that failed in a way that may have landed is looked up by its
  correlation id before anything is sent again (_http's ``recover``); on Cloud, whose index may not hold the
  issue yet, the keys above the newest indexed one are read one by one (GET by key is consistent):
  find_unindexed().
- Transition: the workflow's transitions (GET), the POST (an attempt whose answer was lost is resent only when
  the status read back shows it did not take), the properties' PUT when the move sets fields Jira has no field
  for, and a GET that verifies the new status.
- Site metadata from the client's cache file is checked by use: an issue read without a field the list names,
  or a write refused naming a field id, makes the client read the list again and the request is repeated once.
- Journal: work notes are internal comments, comments public ones (the ``sd.public.comment`` property).
"""

from __future__ import annotations

import contextlib
import re
import typing as t

from ... import _input as inputs
from ... import _lifecycle as lifecycle
from ... import _lookup as lookup
from ... import _records as records
from ..._errors import ItsmNotFoundError, ItsmTransientError, ItsmTransitionError, ItsmValidationError
from ..._http import ItsmHttpError, Response
from .._base import Found, check_limit
from . import approvals
from . import cmdb
from . import jql
from . import links
from .client import API, RECONCILE_MAX, JsmClient
from .codec import (CORRELATION_PROPERTY, PROPERTIES, RECORD_PROPERTY, SYSTEM, RecordCodec, canonical_time,
                    correlation_value, jira_time)
from .mapping import status_name

Record = dict[str, t.Any]
ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-[0-9]+$")
COUNT_PAGE = 5000  # Cloud lists up to 5000 ids per page when no field is asked for
#: find_unindexed: keys read past the newest indexed one at most, and missing keys in a row that end the walk
#: (one deleted issue is stepped over; the next key not yet given is the end)
PROBE_MAX = 200
PROBE_GAP = 2
#: older_twin on Cloud: the keys below a new issue's that one search looks at (a twin of a create race is among
#: them: the index lags seconds behind creation), and the keys past the index's newest read by GET at most
TWIN_PAGE = 50
TWIN_PROBES = 20
#: older_twin on Cloud: pauses (seconds) for the index to catch up when more keys than TWIN_PROBES are past it
TWIN_INDEX_WAITS = (0.5, 1.0, 2.0, 4.0)
#: (Assets value, label) of each object a write names: cmdb.named_objects
Objects = list[tuple[dict, str]]
#: filters answered after the search (their JQL would be coarser than the canonical rule)
_CHECKED_AFTER = ("approval", "configuration_item", "caused_by", "problem", "window_start", "window_end", "opened_after",
                  "opened_before")
FILTERS = {
    records.CHANGE: ("number", "correlation_id", "state", "type", "approval", "active", "assignment_group",
                     "configuration_item", "window_start", "window_end", "opened_after", "opened_before"),
    records.INCIDENT: ("number", "correlation_id", "state", "active", "assignment_group", "configuration_item",
                       "caused_by", "problem", "opened_after", "opened_before"),
    records.PROBLEM: ("number", "correlation_id", "state", "active", "assignment_group", "configuration_item",
                      "opened_after", "opened_before"),
}
#: what a field naming another record by number names: its kind, and how messages call it
_NAMED_RECORDS = {"caused_by": (records.CHANGE, "change"), "problem": (records.PROBLEM, "problem"),
                  "duplicate_of": (records.PROBLEM, "problem")}


class JsmRecords:
    """The record operations of one backend: its client and codec."""

    def __init__(self, client: JsmClient, codec: RecordCodec, where: str):
        self.client = client
        self.codec = codec
        self.where = where

    # -- reads -----------------------------------------------------------------------------------------

    def read(self, kind: str, ref: str) -> Record | None:
        """The record of issue ``ref`` (key or id), None when there is none or it is another kind."""
        issue = self._issue(kind, ref)
        return None if issue is None else self.codec.record(kind, issue)

    def _issue(self, kind: str, ref: str, parts: t.Collection[str] = ()) -> dict | None:
        """Issue ``ref`` as a record of ``kind`` is read (with the fields the ``parts`` need), None when there is
        none or it is another kind."""
        fields, properties = self._read_fields(kind, parts), list(PROPERTIES)  # with the approvals' property
        try:
            issue = self.client.issue(ref, fields, properties)
        except ItsmNotFoundError:
            return None
        if self.codec.kind_of(issue) != kind:
            return None
        return self._issue(kind, ref, parts) if self._stale(kind, issue) else issue

    def _read_fields(self, kind: str, parts: t.Collection[str]) -> list[str]:
        fields = self.codec.read_fields(kind)  # a change's already name the Approvals field (codec.approvals_id)
        for part, field in (("journal", "comment"), ("approvals", None)):
            if part in parts:
                field = field or approvals.approvals_field(self.client)
                fields += [] if field in fields else [field]
        return fields

    def _stale(self, kind: str, issue: t.Mapping[str, t.Any]) -> bool:
        """Whether ``issue`` lacks a field the site's field list names (Jira sends every field of an issue, null
        when empty): the list came from the client's cache and is out of date. The client then forgets it."""
        missing = set(self.codec.field_ids(kind).values()) - set(issue.get("fields") or {})
        return bool(missing) and self.client.forget_site()

    def holders_with(self, kind: str, key: lookup.RecordKey, open_only: bool,
                     parts: t.Collection[str]) -> list[lookup.LookupResult]:
        """holders(), each with the ``parts`` read in the same request where the issue carries them: the journal
        (its ``comment`` field, when it holds every comment), and by number or id a change's approvals and
        affected objects. What is left None is read by the caller (ItsmBackend.read_parts)."""
        if key.number or key.id:
            if key.number and not ISSUE_KEY.match(key.number):
                return []
            issue = self._issue(kind, key.number or key.id, parts)
            if issue is None:
                return []
            found = self.codec.record(kind, issue)
            other_number = bool(key.number) and found["number"].upper() != key.number.upper()
            if (key.id and found["id"] != key.id) or other_number or (
                    key.correlation_id and found["correlation_id"] != key.correlation_id):
                return []
            return [self._result(kind, found, issue, parts)]
        filters: dict[str, t.Any] = {"correlation_id": key.correlation_id}
        if open_only:
            filters["state"] = sorted(lookup.OPEN_STATES[kind])
        self._check_filters(kind, filters)
        fields = self._read_fields(kind, parts)
        return [self._result(kind, record, issue, parts) for record, issue in self._found_issues(
            kind, self.jql(kind, filters), filters, None, fields[len(self.codec.read_fields(kind)):])]

    def _result(self, kind: str, record: Record, issue: t.Mapping[str, t.Any],
                parts: t.Collection[str]) -> lookup.LookupResult:
        fields = issue.get("fields") or {}
        notes = None
        comment = fields.get("comment")
        if "journal" in parts and isinstance(comment, dict):
            shown = list(comment.get("comments") or [])
            if len(shown) >= int(comment.get("total") or 0):
                notes = lookup.JournalTexts.from_entries(entry(item, self.client.cloud) for item in shown)
        found_approvals = ci_ids = None
        if "approvals" in parts:
            field_id = approvals.approvals_field(self.client)
            if field_id in fields:
                found_approvals = approvals.from_field(self.client, fields.get(field_id),
                                                       (issue.get("properties") or {}).get(approvals.COMMENTS_PROPERTY))
        ci_field = self.codec.field_ids(kind).get("configuration_items")
        if "cis" in parts and ci_field and ci_field in fields:
            ci_ids = cmdb.object_ids(fields.get(ci_field))
        return lookup.LookupResult(record, approvals=found_approvals, notes=notes, ci_ids=ci_ids)

    def holders(self, kind: str, key: lookup.RecordKey, open_only: bool) -> list[Record]:
        if key.number or key.id:
            if key.number and not ISSUE_KEY.match(key.number):
                return []
            found = self.read(kind, key.number or key.id)
            other_number = bool(key.number) and found is not None and found["number"].upper() != key.number.upper()
            if found is None or (key.id and found["id"] != key.id) or other_number:
                return []
            return [found] if not key.correlation_id or found["correlation_id"] == key.correlation_id else []
        filters: dict[str, t.Any] = {"correlation_id": key.correlation_id}
        if open_only:
            filters["state"] = sorted(lookup.OPEN_STATES[kind])
        return list(self.find(kind, filters))

    def jql(self, kind: str, filters: t.Mapping[str, t.Any]) -> str:
        """The JQL of the filters JQL answers exactly (project, issue type and the rest ANDed)."""
        kind_map = self.codec.of(kind)
        conditions = [jql.equals("project", self.codec.mapping.project, "project"),
                      jql.equals("issuetype", kind_map.issue_type, "kind")]
        for name, value in filters.items():
            if value is None or (isinstance(value, (list, tuple)) and not value) or name in _CHECKED_AFTER:
                continue
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            if name == "number":
                conditions.append(jql.one_of("key", values, name) if all(ISSUE_KEY.match(str(v)) for v in values)
                                  else "key IS EMPTY")
            elif name == "correlation_id":  # one, or a list (issue 17): IN with each value quoted
                field = jql.property_clause(CORRELATION_PROPERTY, "value")
                conditions.append(jql.equals(field, value, name) if isinstance(value, str)
                                  else jql.one_of(field, values, name))
            elif name == "state":
                statuses = [status for state in values
                            for status in kind_map.statuses[records.require_choice(name, state, kind_map.statuses)]]
                conditions.append(jql.one_of("status", statuses, name))
            elif name == "active":
                active = [state for state in kind_map.statuses if state not in ("closed", "canceled")]
                statuses = [status for state in active for status in kind_map.statuses[state]]
                conditions.append(("" if value else "NOT ") + jql.one_of("status", statuses, name))
            elif name == "type":
                field = jql.clause_name(self.codec.field_ids(kind)["type"])
                options = [kind_map.to_jsm("type", item) for item in values]
                condition = jql.one_of(field, options, name)
                conditions.append(f"{condition} OR {field} IS EMPTY" if "normal" in values else condition)
            elif name == "assignment_group":
                conditions.append(jql.equals(jql.property_clause(RECORD_PROPERTY, name), value, name))
        return jql.all_of(*conditions) + " ORDER BY created ASC, id ASC"

    def _check_filters(self, kind: str, filters: t.Mapping[str, t.Any]) -> None:
        inputs.query_filters(filters)
        for name, value in filters.items():
            if name not in FILTERS[kind]:
                raise ItsmValidationError("filters", name, f"not a filter of {kind}s; expected one of: "
                                          + ", ".join(FILTERS[kind]))
            if name in ("opened_after", "opened_before", "window_start", "window_end") and value:
                records.normalise_datetime(value, name)
        if filters.get("window_start") and filters.get("window_end"):
            inputs.window(filters["window_start"], filters["window_end"], "window_start", "window_end")

    def find(self, kind: str, filters: t.Mapping[str, t.Any], limit: int | None = None) -> t.Iterator[Record]:
        records.require_choice("kind", kind, records.KINDS)
        self._check_filters(kind, filters)
        text = self.jql(kind, filters)
        return self._found(kind, text, filters, limit, self.numbered_ids(filters))

    def numbered_ids(self, filters: t.Mapping[str, t.Any]) -> list[str]:
        """On Cloud, the ids of the issues a ``number`` filter names, read by key (consistent; the first
        RECONCILE_MAX keys), for the search's ``reconcileIssues``: a number names its issue even while the index
        does not show it yet (created by another controller or a task whose memory is gone). None elsewhere."""
        named = filters.get("number")
        keys = [str(key) for key in (named if isinstance(named, (list, tuple)) else [named] if named else [])]
        if not keys or not all(ISSUE_KEY.match(key) for key in keys) or not self.client.cloud:
            return []
        ids = []
        for key in keys[:RECONCILE_MAX]:
            try:
                ids.append(str(self.client.issue(key, fields=("issuetype",))["id"]))
            except ItsmNotFoundError:
                continue
        return ids

    def _found(self, kind: str, text: str, filters: t.Mapping[str, t.Any], limit: int | None,
               reconcile: t.Sequence[str] = ()) -> t.Iterator[Record]:
        return (record for record, _issue in self._found_issues(kind, text, filters, limit, reconcile=reconcile))

    def _found_issues(self, kind: str, text: str, filters: t.Mapping[str, t.Any], limit: int | None,
                      extra_fields: t.Sequence[str] = (), extra_properties: t.Sequence[str] = (),
                      reconcile: t.Sequence[str] = ()) -> t.Iterator[tuple[Record, dict]]:
        if limit is not None and limit <= 0:
            return
        count = 0
        for issue in self.client.search(text, self.codec.read_fields(kind) + list(extra_fields), reconcile=reconcile,
                                        properties=PROPERTIES + tuple(extra_properties), what=f"search {kind}s"):
            if count == 0 and self._stale(kind, issue):  # again, with the site's field ids
                yield from self._found_issues(kind, text, filters, limit, extra_fields, extra_properties, reconcile)
                return
            record = self.codec.record(kind, issue)
            if matches(record, filters):
                yield record, issue
                count += 1
                if limit is not None and count >= limit:
                    return

    def find_limited(self, kind: str, filters: t.Mapping[str, t.Any], limit: int) -> Found:
        """At most ``limit`` records and how many matched: exact when JQL answers every filter."""
        records.require_choice("kind", kind, records.KINDS)
        check_limit(limit)
        self._check_filters(kind, filters)
        text, numbered = self.jql(kind, filters), self.numbered_ids(filters)
        if any(filters.get(name) for name in _CHECKED_AFTER):
            found = list(self._found(kind, text, filters, limit + 1, numbered))
            return Found(found[:limit], len(found) > limit, None)
        total = self.count(text, numbered)
        found = list(self._found(kind, text, filters, limit, numbered)) if limit else []
        return Found(found, total > len(found), total)

    def count(self, text: str, reconcile: t.Sequence[str] = ()) -> int:
        """How many issues match ``text``: Data Center's ``total``; on Cloud, the ids counted (no total there)."""
        if self.client.cloud:
            return sum(1 for _issue in self.client.search(text, (), page_size=COUNT_PAGE, reconcile=reconcile,
                                                          what="count issues"))
        body = self.client.call("POST", f"{API}/search", "count issues", idempotent=True,
                                json_body={"jql": text, "startAt": 0, "maxResults": 0, "fields": ["id"]})
        return int(body.get("total") or 0)

    # -- writes ----------------------------------------------------------------------------------------

    def check_names(self, kind: str, parsed: inputs.Input) -> Objects | None:
        """What the site must have before a write, checked before it: no template (JSM has none), the CIs in
        Assets (their "Affected objects" values and labels are returned; None when the write sets no CI), the
        cause, the assignment group."""
        if parsed.template:
            raise inputs.unknown_name("template", self.where, "standard change template", parsed.template)
        for option, (named_kind, what) in _NAMED_RECORDS.items():
            number = parsed.values.get(option)
            if number and not (ISSUE_KEY.match(number) and self.read(named_kind, number)):
                raise inputs.unknown_name(option, self.where, what, number)
        group = parsed.values.get("assignment_group")
        if group and not self.client.group_exists(group):
            raise inputs.unknown_name("assignment_group", self.where, "group", group)
        if kind == records.CHANGE:
            return None if parsed.cis is None else cmdb.named_objects(self.client, parsed.cis)
        if "configuration_item" not in parsed.values:
            return None
        ci = parsed.values["configuration_item"]
        return cmdb.named_objects(self.client, [ci], "configuration_item") if ci else []

    def _link(self, kind: str, key: str, parsed: inputs.Input) -> None:
        """An incident's cause and problem, each an issue link (links.py), written or removed as the task says."""
        for field in links.LINKED if kind == records.INCIDENT else ():
            if parsed.values.get(field):
                links.set_link(self.client, key, field, parsed.values[field])
            elif field in parsed.values:
                links.clear_link(self.client, key, field)

    def create(self, kind: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        parsed = inputs.parse_input(kind, fields, creating=True)
        objects = self.check_names(kind, parsed)
        values = dict(parsed.values)
        if kind == records.CHANGE:
            values.setdefault("type", "normal")
        cid = values.get("correlation_id")
        if check_mode:
            return approximate(kind, values, parsed)

        def recover() -> Response | None:
            """A create that may have landed: its correlation id says whether it did (Cloud: find_unindexed)."""
            found = self.holders(kind, lookup.RecordKey(correlation_id=cid), True) if cid else []
            if found:
                return Response(201, {}, {"id": found[-1]["id"], "key": found[-1]["number"]}, "")
            issue = self.find_unindexed(cid) if cid and self.client.cloud else None
            return Response(201, {}, {"id": str(issue["id"]), "key": issue["key"]}, "") if issue else None

        def send() -> tuple[dict, str | None, dict]:
            kind_map = self.codec.of(kind)
            body = {"project": {"key": self.codec.mapping.project}, "issuetype": {"name": kind_map.issue_type},
                    **self.codec.issue_fields(kind, {k: v for k, v in values.items() if v is not None},
                                              object_values(objects))}
            properties = {RECORD_PROPERTY: self.codec.record_property(kind, None, values, parsed.extras or {}),
                          CORRELATION_PROPERTY: correlation_value(cid) if cid else None}
            made, answered = self.client.create_issue_dated(
                body, {k: v for k, v in properties.items() if v is not None}, recover=recover if cid else None)
            return made, answered, body

        with self.client.created.claiming(cid) if cid else contextlib.nullcontext():
            twin = self._remembered_holder(kind, cid) if cid else None
            if twin is not None:
                return records.Met(twin)
            made, answered, _sent = self._repeating_if_stale(send)
            # Remembered once it is known to be the record: the look-ups of this controller's other tasks reconcile
            # what it remembers, and one that met this issue before its retirement would write to it.
            survivor = self.older_twin(kind, cid, made) if cid else None
            if survivor is not None:  # another controller created the id first: its issue is the record
                self.retire(kind, made, survivor)
                self.client.created.remember(survivor["id"], survivor["number"], kind, cid)
                return records.Met(survivor)
            self.client.created.remember(str(made["id"]), made["key"], kind, cid)
        self._link(kind, made["key"], parsed)
        for field, text in parsed.notes:
            self.add_journal(kind, {"id": str(made["id"]), "number": made["key"]}, field, text)
        if not answered:  # found by recover(): what the lost answer would have said is not known
            return self.read(kind, str(made["id"]))
        return self.written(kind, None, {"id": str(made["id"]), "number": made["key"]}, values, parsed, objects,
                            answered)

    def older_twin(self, kind: str, cid: str, made: t.Mapping[str, t.Any]) -> Record | None:
        """The oldest open record of ``cid`` when it is older than ``made`` (the issue this create just made), else
        None: a twin another controller created between this task's look-up and its POST (forks of one controller
        take turns under the claim instead). Keys of a project are given in order, so the oldest is the lowest key,
        the one every creator keeps, and each retires only its own issue (retire()).

        Data Center's search is consistent: one search of the holders. Cloud's index lags behind creation, and a
        twin made a moment ago may not show in it: one search of the holders and the project's newest issues
        (holders or not: the newest one the index holds says where it stands), then every key between that one
        and ``made``'s is read by GET, which is consistent (find_unindexed's walk). On a quiet site no key is left
        to read."""
        own = key_number(made["key"])
        if self.client.cloud:
            candidates = self._recent_issues(kind, cid, own)
        else:
            candidates = [{"id": holder["id"], "key": holder["number"], "cid": holder["correlation_id"]}
                          for holder in self.holders(kind, lookup.RecordKey(correlation_id=cid), True)]
        for candidate in sorted(candidates, key=lambda item: key_number(item["key"])):
            if key_number(candidate["key"]) >= own:
                return None
            if candidate["cid"] != cid:
                continue
            found = self.read(kind, str(candidate["id"]))  # the whole record, and whether it is still open
            if found and found.get("correlation_id") == cid and lookup.is_open(kind, found):
                return found
        return None

    def _recent_issues(self, kind: str, cid: str, own: int) -> list[dict]:
        """``{id, key, cid}`` of the issues of ``kind`` that may be twins on Cloud, from one search of what the index
        holds (this controller's issues are not reconciled into it): the holders of ``cid`` and the issues among the
        TWIN_PAGE keys below ``own``, the newest of which says where the index stands; then the keys between that
        one and ``own``, read by GET (see older_twin), but for those this controller created: its forks take turns
        under the claim, so none of those is a twin. When more than TWIN_PROBES keys are past the index (a burst
        of creates), the search is repeated after TWIN_INDEX_WAITS, as the index catches up, before any is read."""
        project, issue_type = self.codec.mapping.project, self.codec.of(kind).issue_type
        since = max(1, own - TWIN_PAGE)
        text = jql.all_of(jql.equals("project", project, "project"),
                          jql.equals(jql.property_clause(CORRELATION_PROPERTY, "value"), cid, "correlation_id")
                          + " OR " + jql.compare("key", ">=", f"{project}-{since}", "number")) + " ORDER BY key DESC"
        mine = {key_number(item["key"]) for item in self.client.created.entries()
                if str(item.get("key") or "").startswith(f"{project}-")}
        waits = list(TWIN_INDEX_WAITS)
        while True:
            shown: dict[int, dict] = {}
            for issue in self.client.search(text, ("issuetype",), page_size=TWIN_PAGE, remembered=False,
                                            properties=(CORRELATION_PROPERTY,), what="look for twins"):
                shown[key_number(issue["key"])] = issue
                if len(shown) >= TWIN_PAGE:
                    break  # as many issues as keys looked at: this page says where the index stands
            indexed = max((number for number in shown if number >= since), default=since - 1)
            unread = [number for number in range(own - 1, indexed, -1) if number not in mine and number not in shown]
            if len(unread) <= TWIN_PROBES or not waits:
                break
            self.client.http.sleep(waits.pop(0))
        if len(unread) > TWIN_PROBES:
            self.client.warn(f"{project}-{own} was created with a correlation_id while the site's search index "
                             f"lags {len(unread)} issues behind; whether another controller created a twin at the "
                             f"same moment is checked among the {TWIN_PROBES} newest of them only")
        for number in unread[:TWIN_PROBES]:
            try:
                shown[number] = self.client.issue(f"{project}-{number}", fields=("issuetype",),
                                                  properties=(CORRELATION_PROPERTY,))
            except ItsmNotFoundError:
                continue  # deleted, or moved to another project
        return [{"id": str(issue["id"]), "key": issue["key"],
                 "cid": ((issue.get("properties") or {}).get(CORRELATION_PROPERTY) or {}).get("value")}
                for issue in shown.values()
                if ((issue.get("fields") or {}).get("issuetype") or {}).get("name") == issue_type]

    def retire(self, kind: str, made: t.Mapping[str, t.Any], survivor: Record) -> None:
        """This create's own issue, a twin of ``survivor``: it gives up the correlation id (look-ups name the
        survivor alone) and is canceled with a work note naming the survivor (a problem, which has no canceled
        state, keeps the note only), as ServiceNow's twins are where deleting is refused. Where the workflow offers
        no way to canceled, the note is added and a warning says to close the twin by hand."""
        note = (f"Duplicate of {survivor['number']}, created at the same time with the same correlation_id by "
                f"another controller; the work goes on in {survivor['number']}.")
        own = self.read(kind, str(made["id"]))
        if own is None:
            return
        if kind == records.PROBLEM:
            self.update(kind, own, {"correlation_id": None, "work_notes": note})
            return
        own = self.update(kind, own, {"correlation_id": None})
        try:
            self.transition(kind, own, "canceled", {"work_notes": note})
        except ItsmTransitionError as error:  # a workflow with no way to canceled: the twin holds no id already
            self.add_journal(kind, own, "work_notes", note)
            self.client.warn(f"{own['number']} is a twin of {survivor['number']} (the same correlation_id, created "
                             f"at the same moment by another controller) and gave up the correlation_id, but could "
                             f"not be canceled: {error}; close it by hand")

    def _remembered_holder(self, kind: str, cid: str) -> Record | None:
        """The open record of ``kind`` holding ``cid`` that a task on this controller created lately (the client's
        CreatedIssues), read by id (consistent), None when there is none. A concurrent fork that looked the
        correlation id up before it was created finds it here, under the claim, instead of creating a twin."""
        remembered = self.client.created.holder(kind, cid)
        found = self.read(kind, str(remembered["id"])) if remembered else None
        if found and found.get("correlation_id") == cid and found.get("state") in lookup.OPEN_STATES[kind]:
            return found
        return None

    def written(self, kind: str, base: Record | None, ref: t.Mapping[str, t.Any], values: t.Mapping[str, t.Any],
                parsed: inputs.Input, objects: Objects | None, answered: str | None) -> Record:
        """The record a create (``base`` None) or an update of ``base`` leaves, built from what was written as the
        codec reads an issue back (Jira answers neither write with the issue, and an edit moves no status):
        the write's values over ``base``, the objects' labels as Assets spells them, ``answered`` the update
        time (and a create's)."""
        kind_map, ids = self.codec.of(kind), self.codec.field_ids(kind)
        writable = records.WRITABLE[kind]
        merged = {name: (base or {}).get(name) for name in writable if base and name in base}
        merged.update(values)
        fields = self.codec.issue_fields(kind, merged)
        state = base["state"] if base else "new"  # the workflow's initial status, in the mappings the backend ships
        fields.update(status={"name": kind_map.statuses[state][0]}, issuetype={"name": kind_map.issue_type},
                      created=jira_time((base or {}).get("opened_at") or answered), updated=jira_time(answered),
                      resolutiondate=jira_time((base or {}).get("closed_at")
                                               or ((base or {}).get("fields") or {}).get("resolved_at")))
        ci_field = "configuration_items" if kind == records.CHANGE else "configuration_item"
        if objects is not None:
            labels = [label for _value, label in objects]
        else:
            held = (base or {}).get(ci_field)
            labels = list(held) if isinstance(held, list) else [held] if held else []
        for name, names in ((ci_field, labels), ("affected_services", [(base or {}).get("affected_services")])):
            if name in ids:
                fields[ids[name]] = [{"label": label} for label in names if label]
        extras = parsed.extras if parsed.extras is not None else (base or {}).get("fields") or {}
        cid = merged.get("correlation_id")
        issue = {"id": ref["id"], "key": ref["number"], "fields": fields, "properties": {
            RECORD_PROPERTY: self.codec.record_property(kind, base, values, extras),
            CORRELATION_PROPERTY: correlation_value(cid) if cid else None}}
        record = {**(base or {}), **self.codec.record(kind, issue)}
        if kind == records.INCIDENT:  # issue links, written apart (_link)
            record.update({field: merged.get(field) for field in links.LINKED})
        if base:  # what an edit leaves as it was: the status and what the codec derives from it, the counter
            record.update({name: base.get(name) for name in ("state", "active", "closed_at", "approval", "reopen_count")
                           if name in base})
        return record

    def _repeating_if_stale(self, send: t.Callable[[], t.Any]) -> t.Any:
        """``send()``; once more when Jira refused it naming a field id the client's cached field list gave."""
        try:
            return send()
        except ItsmHttpError as error:
            if not (error.status == 400 and self.client.site_from_cache and self.client.refuses_field(
                    error, [field for ids in self.codec_ids() for field in ids]) and self.client.forget_site()):
                raise
        return send()

    def codec_ids(self) -> list[list[str]]:
        """The field ids the codec derived, per kind (what a stale field list would have put in a write)."""
        return [list(self.codec.field_ids(kind).values()) for kind in self.codec.mapping.kinds]

    def find_unindexed(self, cid: str) -> dict | None:
        """The issue holding correlation id ``cid`` among those Cloud's search index may not hold yet, or None.

        Keys of a project are given in order and a read by key is consistent, so the issues created since the
        index last caught up are the keys above the newest one it holds: they are read one by one until a key
        that is not given yet (PROBE_GAP missing in a row, so one deleted issue is stepped over). Only a create
        whose answer was lost pays for it. When the walk cannot end within PROBE_MAX keys, whether the create
        landed is unknown: ItsmTransientError (the transport reports that nothing was sent again)."""
        project = self.codec.mapping.project
        newest = next(iter(self.client.search(jql.equals("project", project, "project") + " ORDER BY key DESC",
                                              ("status",), page_size=1, what="find the newest indexed issue")), None)
        number = int(str(newest["key"]).rsplit("-", 1)[1]) if newest else 0
        missing = 0
        for probe in range(number + 1, number + 1 + PROBE_MAX):
            try:
                issue = self.client.issue(f"{project}-{probe}", fields=("issuetype",),
                                          properties=(CORRELATION_PROPERTY,))
            except ItsmNotFoundError:
                missing += 1
                if missing >= PROBE_GAP:
                    return None
                continue
            missing = 0
            if ((issue.get("properties") or {}).get(CORRELATION_PROPERTY) or {}).get("value") == cid:
                return issue
        raise ItsmTransientError(f"looking for the issue holding correlation id {cid!r} read {PROBE_MAX} keys past "
                                 f"{project}-{number} without reaching the end", url=self.where)

    def update(self, kind: str, record: Record, fields: t.Mapping[str, t.Any], check_mode: bool = False, *,
               known_notes: lookup.JournalTexts | None = None) -> Record:
        records.require_choice("kind", kind, records.KINDS)
        parsed = inputs.parse_input(kind, fields)
        objects = self.check_names(kind, parsed)
        if check_mode:
            return {**record, **parsed.values, **({"configuration_items": parsed.cis} if parsed.cis is not None
                                                  else {})}
        answered = self._repeating_if_stale(lambda: self._edit(kind, record, parsed, objects))
        self._link(kind, record["number"], parsed)
        self._notes(kind, record, parsed.notes, known_notes)
        if not complete(kind, record):  # a caller's partial record: the issue is read back
            return self.read(kind, record["id"])
        return self.written(kind, record, record, parsed.values, parsed, objects,
                            answered or record.get("updated_at"))

    def _edit(self, kind: str, record: Record, parsed: inputs.Input, objects: Objects | None) -> str | None:
        """One PUT with the fields Jira holds and the properties the values change (a correlation id cleared: a
        DELETE of its property); nothing when nothing does. When the site answered (its Date header; "" without
        one), None when nothing was sent."""
        issue_fields = self.codec.issue_fields(kind, parsed.values, object_values(objects))
        properties = {}
        kept = self.codec.record_property(kind, record, parsed.values, parsed.extras)
        if kept is not None:
            properties[RECORD_PROPERTY] = kept
        cleared = "correlation_id" in parsed.values and parsed.values["correlation_id"] is None
        if "correlation_id" in parsed.values and not cleared:
            properties[CORRELATION_PROPERTY] = correlation_value(parsed.values["correlation_id"])
        answered = None
        if issue_fields or properties:
            body = {"fields": issue_fields, "properties": [{"key": k, "value": v} for k, v in properties.items()]}
            _body, answered = self.client.call_dated("PUT", f"{API}/issue/{record['id']}", f"update {record['number']}",
                                                     json_body=body)
            answered = answered or ""
        if cleared and record.get("correlation_id"):  # a property is removed, never set to null (Jira wants JSON)
            self.client.delete_property(record["id"], CORRELATION_PROPERTY)
            answered = answered or ""
        return answered

    def transition(self, kind: str, record: Record, state: str, fields: t.Mapping[str, t.Any] | None = None,
                   check_mode: bool = False, *, known_notes: lookup.JournalTexts | None = None) -> Record:
        """One move of the workflow to ``state``, refused before writing when the mapping, the workflow or the
        fields the state needs say no; verified by reading the status back."""
        records.require_choice("kind", kind, records.KINDS)
        records.require_choice("state", state, records.STATES[kind])
        parsed = inputs.parse_input(kind, fields or {})
        objects = self.check_names(kind, parsed)
        # A record without an id is the one a check-mode create planned: nothing on the site to read or move yet.
        issue = self._issue(kind, record["id"]) if record.get("id") else None
        current = self.codec.record(kind, issue) if issue else record
        if current["state"] == state:
            return self.update(kind, current, fields or {}, check_mode, known_notes=known_notes)
        merged = {**current, **parsed.values}
        if kind == records.PROBLEM:  # Jira's workflow knows no resolution code: the move it allows, checked here
            refuse_problem_move(current, state, merged)
        lifecycle.refuse_missing_to_enter(kind, current["number"], state, merged)
        if lifecycle.reanalysis(kind, current["state"], state):
            parsed.values["resolution_code"] = merged["resolution_code"] = None  # kept in opsgate.record
        if check_mode and not current.get("id"):
            return {**merged, "state": state}
        offered = self.client.transitions(current["id"])
        # The issue's own status names where the move starts (a state may map several: Rejected and Withdrawn).
        status = ((issue or {}).get("fields") or {}).get("status") or self.codec.of(kind).statuses[current["state"]][0]
        move = self.codec.of(kind).choose_transition(current["number"], status, state, offered,
                                                     merged.get("resolution_code" if kind == records.PROBLEM
                                                                else "close_code"))
        if check_mode:
            return {**merged, "state": state}
        target = status_name(move.get("to")).lower()

        def landed() -> Response | None:
            """An attempt whose answer was lost: taken when the issue is in the move's status now."""
            return Response(204, {}, None, "") if status_name(self.client.status(current["id"])).lower() == target \
                else None

        self.client.transition(current["id"], move["id"],
                               self.codec.issue_fields(kind, parsed.values, object_values(objects)), recover=landed)
        kept = self.codec.record_property(kind, current, parsed.values, parsed.extras)
        if kept is not None or "correlation_id" in parsed.values:
            self._edit(kind, current, inputs.Input(values={k: v for k, v in parsed.values.items()
                                                           if k not in self.codec.field_ids(kind) and k not in SYSTEM},
                                                   extras=parsed.extras), None)
        self._link(kind, current["number"], parsed)
        self._notes(kind, current, parsed.notes, known_notes)
        moved = self.read(kind, current["id"])
        if moved is None or moved["state"] != state:
            raise ItsmTransitionError(f"state: {current['number']} did not reach {state} through "
                                      f"{move.get('name')!r}; it is {moved and moved['state']}", option="state",
                                      value=state)
        return moved

    # -- journal ---------------------------------------------------------------------------------------

    def journal(self, kind: str, record: Record) -> list[Record]:
        return [entry(comment, self.client.cloud) for comment in self.client.comments(record["id"])]

    def journals_for(self, kind: str, ids: t.Sequence[str]) -> dict[str, list[Record]]:
        return {record_id: self.journal(kind, {"id": record_id}) for record_id in ids}

    def add_journal(self, kind: str, record: Record, field: str, text: str, check_mode: bool = False,
                    known_notes: lookup.JournalTexts | None = None) -> None:
        """One internal (work_notes) or public (comments) comment. A POST that may have landed is not sent
        again when the journal carries the text more often than before: none before when ``known_notes`` show
        it absent, else counted before writing (a repeated text is a new entry too, never resent blind)."""
        records.require_choice("field", field, inputs.NOTE_FIELDS)
        inputs.require_text(field, text)
        if check_mode:
            return

        def carrying() -> int:
            return sum(1 for item in self.journal(kind, record) if (item["field"], item["text"].strip())
                       == (field, text.strip()))

        before = 0 if known_notes is not None and not known_notes.has(field, text) else carrying()

        def recover() -> Response | None:
            return Response(201, {}, {}, "") if carrying() > before else None

        self.client.add_comment(record["id"], text, internal=field == "work_notes", recover=recover)

    def _notes(self, kind: str, record: Record, notes: t.Sequence[tuple[str, str]],
               known_notes: lookup.JournalTexts | None) -> None:
        for field, text in notes:
            self.add_journal(kind, record, field, text, known_notes=known_notes)


def key_number(key: str) -> int:
    """The number of an issue key (``ITSM-42``: 42): keys of a project are given in creation order."""
    return int(str(key).rsplit("-", 1)[1])


def object_values(objects: Objects | None) -> list[dict] | None:
    """The "Affected objects" value of named objects (None: the write sets none)."""
    return None if objects is None else [value for value, _label in objects]


def complete(kind: str, record: t.Mapping[str, t.Any]) -> bool:
    """Whether ``record`` is a whole record of ``kind`` as the backend reads them (a write can be built on it)."""
    names = records.OUTPUT_FIELDS[kind]
    return bool(record.get("id")) and all(name in record for name in names) and record.get("backend") == "jsm"


def entry(comment: t.Mapping[str, t.Any], cloud: bool) -> Record:
    properties = {item.get("key"): item.get("value") for item in comment.get("properties") or []
                  if isinstance(item, dict)}
    internal = bool((properties.get("sd.public.comment") or {}).get("internal")) or comment.get("jsdPublic") is False
    author = comment.get("author") or {}
    return {"field": "work_notes" if internal else "comments", "text": str(comment.get("body") or ""),
            "author": author.get("accountId" if cloud else "name") or author.get("displayName"),
            "created": canonical_time(comment.get("created"))}


def matches(record: Record, filters: t.Mapping[str, t.Any]) -> bool:
    """The filters JQL cannot answer exactly, checked on the record as read."""
    def given(name: str) -> t.Any:
        value = filters.get(name)
        return None if value is None or (isinstance(value, (list, tuple)) and not value) else value

    approval = given("approval")
    if approval and record.get("approval") not in ([approval] if isinstance(approval, str) else approval):
        return False
    ci = given("configuration_item")
    if ci and ci not in (record.get("configuration_items") or [record.get("configuration_item")]):
        return False
    if given("caused_by") and record.get("caused_by") != filters["caused_by"]:
        return False
    problem = given("problem")
    if problem and str(record.get("problem") or "").upper() not in {
            str(number).upper() for number in ([problem] if isinstance(problem, str) else problem)}:
        return False
    opened = record.get("opened_at") or ""
    if given("opened_after") and opened < records.normalise_datetime(filters["opened_after"], "opened_after"):
        return False
    if given("opened_before") and opened > records.normalise_datetime(filters["opened_before"], "opened_before"):
        return False
    start, end = record.get("start_date"), record.get("end_date") or record.get("start_date")
    since = records.normalise_datetime(filters["window_start"], "window_start") if given("window_start") else None
    if since and not (end and end > since):
        return False
    if given("window_end") and not (start and start < records.normalise_datetime(filters["window_end"], "window_end")):
        return False
    return True


def approximate(kind: str, values: t.Mapping[str, t.Any], parsed: inputs.Input) -> Record:
    """What a create would make, for check mode: state new, nothing read from the site."""
    record: Record = dict.fromkeys(records.OUTPUT_FIELDS[kind])
    record.update(values, backend="jsm", state="new", active=True, fields=dict(parsed.extras or {}))
    if kind == records.CHANGE:
        record.update(approval="not_requested", configuration_items=list(parsed.cis or []))
    else:
        record.update(priority=records.priority_for(values.get("impact"), values.get("urgency")))
    if kind == records.INCIDENT:
        record["reopen_count"] = 0
    return record


def refuse_problem_move(current: Record, state: str, merged: Record) -> None:
    """A problem's move its resolution code does not allow (_lifecycle.PROBLEM_RESOLUTION_MOVES), refused as the
    local store refuses it: Jira's workflow offers the move whatever the code, which it does not know."""
    if state not in lifecycle.user_transitions(records.PROBLEM, None, merged).get(current["state"], ()):
        path = lifecycle.plan_path(records.PROBLEM, current["state"], state, None, current["number"], values=merged)
        raise ItsmTransitionError(f"state: cannot move {current['number']} from {current['state']} to {state} in one "
                                  f"step; move it to {path[0]} first", option="state", value=state,
                                  current_state=current["state"])
