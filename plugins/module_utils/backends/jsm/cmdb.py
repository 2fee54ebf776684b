# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CMDB of the jsm backend: Assets objects, and a change's "Affected objects". FOR INTERNAL COLLECTION USE ONLY.

- A CI is an Assets object: ``id`` is its object id as the site gives it (digits), ``name`` its label and
  ``ci_class`` its object type's name made canonical (lower case, runs of other characters as ``_``:
  ``Virtual Machine`` -> ``virtual_machine``). A class names the object type whose canonical name it is
  (``cmdb_ci_`` tables are taken as ServiceNow's, so ``cmdb_ci_linux_server`` is ``Linux Server``); one the
  site lacks is refused naming ``ci_class`` and listing the site's. A CI keeps its type (_input.class_kept),
  and a new CI needs one: Assets has no base type.
- Fields are attributes, named the same way (``ip_address`` reads the attribute ``IP Address``); ``fields``
  None gives every attribute but the label. Values are the site's own, as text (no canonical words: Assets
  types choose their own status values); a field given None empties the attribute. A read-only attribute (Key,
  Created, Updated) given back unchanged is left out of a write, so a task may write back what it read.
- Reads are one AQL search, ``ORDER BY Key`` (Key order is object id order), paged by offset: the first page
  tells the total, the others are fetched by a bounded pool (_cmdb.ordered_pages), so N CIs cost
  ceil(N / page size) requests, plus the type list (read once per Catalog) when a class or attribute is named.
  A page out of id order is an error, never skipped. A name or id list longer than 100 is read in chunks.
- ``query`` is AQL, ANDed with the filters, without ``ORDER BY``. A query that parses as the encoded-query
  subset every backend understands (``nameSTARTSWITHweb^environment=test``, _cmdb.parse_query) is translated
  to AQL instead (``name`` the label, ``id`` the object id, ``ci_class`` the type, other fields attributes).
- Relationships: Assets keeps them as reference attributes, which the simulator does not model, so
  ci_relations and put_ci_relations check their input and then say they are unsupported.
- A change's affected CIs are the Assets objects of its "Affected objects" field: written as the object's
  global id on Cloud (``{"id": "<workspace>:<object id>"}``) and its key on Data Center (``{"key"}``).
"""

from __future__ import annotations

import heapq
import re
import typing as t

from ... import _cmdb as cmdb
from ... import _input as inputs
from ..._errors import ItsmConflictError, ItsmUnexpectedResponseError, ItsmValidationError
from ..._http import Response
from .._base import CiRelations
from . import jql
from .client import JsmClient

Record = dict[str, t.Any]
NAME = "jsm"
AFFECTED_OBJECTS = "Affected objects"
#: system attributes a task cannot write: the label is the CI's name, the rest the site keeps
SYSTEM_ATTRIBUTES = ("Key", "Name", "Created", "Updated")
_LIST_CHUNK = 100
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_TOP = {"name": "label", "id": "objectId", "ci_class": "objectType"}
_AQL_OPERATORS = {"=": "=", "!=": "!=", "LIKE": "LIKE", "NOT LIKE": "NOT LIKE", "STARTSWITH": "STARTSWITH",
                  "ENDSWITH": "ENDSWITH", "IN": "IN", "NOT IN": "NOT IN"}


def canonical(name: str) -> str:
    """A type's or attribute's name as a class or field: ``IP Address`` -> ``ip_address``."""
    return _NOT_WORD.sub("_", str(name).lower()).strip("_")


class Catalog:
    """The site's object types and their attributes, each read once, when first needed (types: one request per
    schema and one for the schema list; attributes: one request per type)."""

    def __init__(self, client: JsmClient):
        self.client = client
        self._types: dict[str, dict] | None = None
        self._attributes: dict[str, list[dict]] = {}

    def types(self) -> dict[str, dict]:
        """canonical class -> ``{id, name, objectSchemaId}``."""
        if self._types is None:
            base = self.client.assets_base()
            listed = self.client.call("GET", f"{base}/objectschema/list", "read the Assets object schemas") or {}
            schemas = listed.get("values") if self.client.cloud else listed.get("objectschemas")
            found: dict[str, dict] = {}
            for schema in schemas or []:
                for kind in self.client.call("GET", f"{base}/objectschema/{schema['id']}/objecttypes/flat",
                                             f"read the object types of Assets schema {schema.get('name')}") or []:
                    found.setdefault(canonical(kind["name"]), kind)
            self._types = found
        return self._types

    def type_of(self, ci_class: t.Any, option: str = "ci_class") -> dict:
        """The object type of a class (checked as _input.ci_class takes it); one the site lacks is refused."""
        wanted = inputs.ci_class(ci_class, option)
        kind = self.types().get(wanted)
        if kind is None:
            raise ItsmValidationError(option, ci_class, f"expected an Assets object type of {self.client.settings.url}"
                                      f" as a class: {', '.join(sorted(self.types())) or '(none)'}")
        return kind

    def attributes(self, type_id: str) -> list[dict]:
        """``{id, name, editable, ...}`` of an object type."""
        if type_id not in self._attributes:
            self._attributes[type_id] = list(self.client.call(
                "GET", f"{self.client.assets_base()}/objecttype/{type_id}/attributes",
                f"read the attributes of Assets object type {type_id}") or [])
        return self._attributes[type_id]

    def attribute_name(self, field: str, type_ids: t.Sequence[str] | None) -> str:
        """The attribute a field names, among the types ``type_ids`` (all types when None); a field no attribute
        has is sent as written, so AQL's own names (``objectType``, ``Key``) work and unknown ones fail there."""
        for type_id in type_ids if type_ids is not None else [kind["id"] for kind in self.types().values()]:
            for attribute in self.attributes(type_id):
                if canonical(attribute["name"]) == canonical(field):
                    return attribute["name"]
        return field


# -- reading ---------------------------------------------------------------------------------------

def iter_cmdb(client: JsmClient, catalog: Catalog, ci_class: str | None, fields: t.Sequence[str] | None,
              filters: t.Mapping[str, t.Any] | None, query: str | None, page_size: int,
              workers: int) -> t.Iterator[Record]:
    type_ids = [catalog.type_of(ci_class)["id"]] if ci_class else None
    wanted = None if fields is None else [field for field in dict.fromkeys(fields) if field not in cmdb.TOP_LEVEL]
    checked = inputs.cmdb_filters(filters)
    if any(isinstance(value, list) and not value for value in checked.values()):
        return iter(())  # "any of nothing" matches no CI
    base = [_class_term(catalog, ci_class, "ci_class")] if ci_class else []
    split = None
    for field, value in checked.items():
        listed = value if isinstance(value, list) else [value]
        if field in ("name", "id") and len(listed) > _LIST_CHUNK and split is None:
            split = (field, listed)
        else:
            base.append(_filter_term(catalog, type_ids, field, listed))
    base.append(translate(catalog, type_ids, query))
    size = max(1, int(page_size))
    if split is None:
        return cmdb.exactly(_increasing(_read(client, jql.all_of(*base), wanted, size, workers)), checked)
    field, values = split
    readers = [_read(client, jql.all_of(*base, _filter_term(catalog, type_ids, field, values[at:at + _LIST_CHUNK])),
                     wanted, size, 1) for at in range(0, len(values), _LIST_CHUNK)]
    return cmdb.exactly(_increasing(heapq.merge(*readers, key=lambda ci: int(ci["id"]))), checked)


def _class_term(catalog: Catalog, classes: t.Any, option: str) -> str:
    listed = classes if isinstance(classes, list) else [classes]
    return jql.one_of("objectType", [catalog.type_of(item, option)["name"] for item in listed], option)


def _filter_term(catalog: Catalog, type_ids: list[str] | None, field: str, values: list[t.Any]) -> str:
    option = f"filters.{field}"
    if field == "ci_class":
        return _class_term(catalog, values, option)
    name = _TOP.get(field) or jql.quote(catalog.attribute_name(field, type_ids), option)
    return jql.one_of(name, [_text(value) for value in values], option)


def translate(catalog: Catalog, type_ids: list[str] | None, query: str | None) -> str:
    """The raw query as AQL: the encoded-query subset translated, anything else kept as AQL."""
    if not query or not query.strip():
        return ""
    if re.search(r"\border\s+by\b", query, re.IGNORECASE):
        raise ItsmValidationError("query", query, "the inventory orders by object id itself; leave ORDER BY out")
    try:
        terms = cmdb.parse_query(query)
    except ItsmValidationError:
        return query  # AQL
    return jql.all_of(*(_aql_term(catalog, type_ids, term) for term in terms))


def _aql_term(catalog: Catalog, type_ids: list[str] | None, term: cmdb.Term) -> str:
    if term.field == "ci_class":
        field, values = "objectType", [catalog.type_of(item, "query")["name"] for item in term.value.split(",")]
    else:
        field = _TOP.get(term.field) or jql.quote(catalog.attribute_name(term.field, type_ids), "query")
        values = term.value.split(",") if term.operator in ("IN", "NOT IN") else [term.value]
    if term.operator in ("ISEMPTY", "ISNOTEMPTY"):
        return f"{field} IS {'' if term.operator == 'ISEMPTY' else 'NOT '}EMPTY"
    if term.operator in ("IN", "NOT IN") or term.field == "ci_class":
        operator = term.operator if term.operator in ("IN", "NOT IN") else ("IN" if term.operator == "=" else "NOT IN")
        return f"{field} {operator} {jql.quote_list(values, 'query')}"
    return f"{field} {_AQL_OPERATORS[term.operator]} {jql.quote(values[0], 'query')}"


def _read(client: JsmClient, aql: str, wanted: list[str] | None, size: int, workers: int) -> t.Iterator[Record]:
    ordered = (aql + " " if aql else "") + "ORDER BY Key ASC"

    def fetch(index: int) -> cmdb.Page:
        objects, total, _last = client.aql_page(ordered, index * size, size, what="read the CMDB (Assets)")
        return objects, total

    return (to_ci(item, wanted) for item in cmdb.ordered_pages(fetch, size, workers))


def _increasing(items: t.Iterable[Record]) -> t.Iterator[Record]:
    last = 0
    for item in items:
        number = int(item["id"])
        if number <= last:
            raise ItsmUnexpectedResponseError(f"read the CMDB (Assets): object {item['id']} came after object {last}; "
                                              "the site did not order the search by Key")
        last = number
        yield item


def to_ci(item: t.Mapping[str, t.Any], wanted: t.Sequence[str] | None) -> Record:
    values = {canonical(name): value for name, value in (item.get("values") or {}).items() if name != "Name"}
    if wanted is None:
        fields = values
    else:
        fields = {field: values.get(canonical(field)) for field in wanted}
    return {"id": str(item["id"]), "name": item.get("label") or None,
            "ci_class": canonical((item.get("objectType") or {}).get("name", "")), "fields": fields}


def _text(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# -- writing ---------------------------------------------------------------------------------------

def find_one(client: JsmClient, name: str, option: str = "name") -> dict | None:
    """The object labelled ``name``, with its attributes; None when there is none, refused when two are."""
    found = list(client.aql_page(f"label = {jql.quote(name, option)}", 0, 10, what=f"look up the CI {name}")[0])
    found = [item for item in found if item.get("label") == name]  # AQL compares labels in any case (issue 14)
    if len(found) > 1:
        raise ItsmConflictError(f"{option}: more than one Assets object is labelled {name!r} on "
                                f"{client.settings.url}; rename one of them", option=option, value=name)
    return found[0] if found else None


def put_ci(client: JsmClient, catalog: Catalog, name: str, ci_class: str | None, fields: t.Mapping[str, t.Any],
           check_mode: bool) -> bool:
    name = inputs.ci_name(name)
    wanted_type = catalog.type_of(ci_class) if ci_class else None
    current = find_one(client, name)
    current_type = (current or {}).get("objectType") or {}
    if current is not None and wanted_type is not None and str(current_type.get("id")) != str(wanted_type["id"]):
        raise inputs.class_kept(NAME, name, canonical(current_type.get("name", "")), ci_class)
    if current is None and wanted_type is None:
        raise ItsmValidationError("ci_class", ci_class, f"a new CI needs its class, an Assets object type of "
                                  f"{client.settings.url}: {', '.join(sorted(catalog.types())) or '(none)'}")
    type_id = str(wanted_type["id"] if wanted_type else current_type["id"])
    have = {canonical(key): _text(value) for key, value in ((current or {}).get("values") or {}).items()}
    wanted = _attribute_texts(catalog, type_id, fields, have)
    if current is None:
        if not check_mode:
            _create(client, catalog, type_id, name, wanted)
        return True
    changes = {attribute_id: text for attribute_id, (attribute_name, text) in wanted.items()
               if have.get(canonical(attribute_name), "") != text}
    if changes and not check_mode:
        client.call("PUT", f"{client.assets_base()}/object/{current['id']}", f"update the CI {name}",
                    json_body={"objectTypeId": type_id, "attributes": _attribute_body(changes)})
    return bool(changes)


def _attribute_texts(catalog: Catalog, type_id: str, fields: t.Mapping[str, t.Any],
                     have: t.Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """attribute id -> (attribute name, text) for ``fields``; a field the type has no writable attribute for, or
    a value that is not plain, is refused naming ``fields.<field>`` before anything is written. A read-only
    attribute (Key, Created, Updated) given the value the object has (``have``: canonical name -> text) is left
    out, not refused: a task that writes back the fields it read (configuration_item keeps the fields it does
    not name) carries them."""
    attributes = {canonical(item["name"]): item for item in catalog.attributes(type_id)}
    writable = sorted(key for key, item in attributes.items()
                      if item["name"] not in SYSTEM_ATTRIBUTES and item.get("editable") is not False)
    found = {}
    for field, value in fields.items():
        option = f"fields.{field}"
        attribute = attributes.get(canonical(field))
        read_only = attribute is not None and (attribute["name"] in SYSTEM_ATTRIBUTES
                                               or attribute.get("editable") is False)
        if read_only and canonical(field) in have and have[canonical(field)] == _text(value):
            continue
        if attribute is None or read_only:
            raise ItsmValidationError(option, value, f"the object type has no writable attribute {field!r}; its "
                                      f"attributes are: {', '.join(writable) or '(none)'}")
        if isinstance(value, (dict, list)):
            raise ItsmValidationError(option, value, "the jsm backend stores plain values (text, numbers, booleans)")
        found[str(attribute["id"])] = (attribute["name"], _text(value))
    return found


def _attribute_body(texts: t.Mapping[str, str]) -> list[dict]:
    return [{"objectTypeAttributeId": attribute_id, "objectAttributeValues": [{"value": text}] if text else []}
            for attribute_id, text in texts.items()]


def _create(client: JsmClient, catalog: Catalog, type_id: str, name: str,
            wanted: t.Mapping[str, tuple[str, str]]) -> None:
    label = next((str(item["id"]) for item in catalog.attributes(type_id) if item.get("label")), None)
    if label is None:
        label = next(str(item["id"]) for item in catalog.attributes(type_id) if item["name"] == "Name")
    texts = dict({attribute_id: text for attribute_id, (_name, text) in wanted.items() if text}, **{label: name})
    client.call("POST", f"{client.assets_base()}/object/create", f"create the CI {name}", idempotent=False,
                recover=lambda: _recover(client, name),
                json_body={"objectTypeId": type_id, "attributes": _attribute_body(texts)})


def _recover(client: JsmClient, name: str) -> Response | None:
    """A create that may have landed is found by its label before anything is sent again."""
    found = find_one(client, name)
    return Response(201, {}, found, "") if found else None


# -- relationships: Assets references, not modelled -------------------------------------------------------

def check_relation_types(types: t.Sequence[str] | None) -> None:
    """The types of a ci_relations read checked as every backend checks them; the caller then raises
    unsupported."""
    for kind in types or []:
        inputs.relation_type("relations.types", kind)


def check_relations(relations: t.Any) -> list[tuple[str, str]]:
    """``[{type, target}]`` checked as every backend checks it (_input.relation_list); the caller then raises
    unsupported, so a malformed entry is refused by the same words everywhere. Already checked ones pass."""
    return relations.wanted if isinstance(relations, CiRelations) else inputs.relation_list(relations)


# -- a change's affected CIs: the "Affected objects" field ----------------------------------------------------

def affected_field(client: JsmClient) -> str:
    """The id of the "Affected objects" field on this site (ids differ per site)."""
    return client.field_ids([AFFECTED_OBJECTS], "configuration_items")[AFFECTED_OBJECTS]


def object_ids(value: t.Any) -> list[str]:
    """The object ids of an "Affected objects" value as an issue read gives it (``objectId``, or the global id
    ``<workspace>:<object id>``), in id order."""
    ids = set()
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            found = item.get("objectId") or str(item.get("id") or "").rsplit(":", maxsplit=1)[-1]
            if found:
                ids.add(str(found))
    return sorted(ids, key=int)


def affected_objects(client: JsmClient, key: str) -> list[dict]:
    """The change's "Affected objects" as the issue holds them (``objectId``, ``label``... per object)."""
    field = affected_field(client)
    return list((client.issue(key, fields=(field,)).get("fields") or {}).get(field) or [])


def affected_ci_ids(client: JsmClient, key: str) -> list[str]:
    """Ids, as iter_cmdb gives them, of the objects the change ``key`` affects."""
    return object_ids(affected_objects(client, key))


def affected_cis(client: JsmClient, key: str) -> list[str]:
    """Names (labels) of the objects the change ``key`` affects, sorted."""
    objects = affected_objects(client, key)
    if all(item.get("label") for item in objects):
        return sorted({item["label"] for item in objects})
    ids = object_ids(objects)
    found = client.aql(f"objectId IN {jql.quote_list(ids, 'configuration_items')}", attributes=False) if ids else []
    return sorted({item.get("label") for item in found if item.get("label")})


def affected_value(client: JsmClient, names: t.Sequence[str], option: str = "configuration_items") -> list[dict]:
    """The "Affected objects" value naming the objects labelled ``names`` (one AQL search): the global id on
    Cloud, the key on Data Center. A name no object has is refused naming ``option``, a name two have too."""
    return [value for value, _label in named_objects(client, names, option)]


def named_objects(client: JsmClient, names: t.Sequence[str],
                  option: str = "configuration_items") -> list[tuple[dict, str]]:
    """affected_value's entries, each with the object's label as Assets spells it (what a read gives back)."""
    wanted = inputs.ci_names(names, option)
    if not wanted:
        return []
    by_label: dict[str, list[dict]] = {}
    for item in client.aql(f"label IN {jql.quote_list(wanted, option)}", page_size=100, attributes=False,
                           what="look up configuration items"):
        by_label.setdefault(str(item.get("label")), []).append(item)  # exactly: AQL compares in any case (issue 14)
    value = []
    for name in wanted:
        found = by_label.get(name, [])
        if not found:
            raise inputs.unknown_name(option, client.settings.url, "configuration item", name)
        if len(found) > 1:
            raise ItsmConflictError(f"{option}: more than one Assets object is labelled {name!r} on "
                                    f"{client.settings.url}; rename one of them", option=option, value=name)
        item = found[0]
        value.append(({"id": item.get("globalId") or f"{item.get('workspaceId')}:{item['id']}"} if client.cloud
                      else {"key": item["objectKey"]}, str(item.get("label") or name)))
    return value


def set_affected_cis(client: JsmClient, key: str, names: t.Sequence[str], check_mode: bool = False) -> bool:
    """Make ``names`` the change's affected objects; True when that changed something. Every name is resolved
    before the write."""
    value = affected_value(client, names)
    if set(affected_cis(client, key)) == set(inputs.ci_names(names)):
        return False
    if not check_mode:
        client.edit_issue(key, fields={affected_field(client): value})
    return True
