"""Assets (the JSM CMDB): AQL object search with paging and attributes, object create/read/update, schemas
and object types.  The reference is silent on Assets wire formats; the simulator serves the Cloud workspace
form (``/jsm/assets/workspace/{workspaceId}/v1/...``, on the simulator's own host instead of
api.atlassian.com) on Cloud and the Data Center ``/rest/insight/1.0/...`` form on Data Center.
"""

from __future__ import annotations

from . import jql
from .seed import object_doc
from .wire import JiraError, Request, empty, json_response, param_bool, param_int


class Assets:
    def __init__(self, site) -> None:
        self.site = site
        self.store = site.store

    def base(self, req: Request) -> str:
        if self.site.cloud:
            return f"{req.base_url}/jsm/assets/workspace/{self.site.workspace}/v1"
        return f"{req.base_url}/rest/insight/1.0"

    def route(self, req: Request, parts: list[str], user: dict) -> object:
        method = req.method
        if parts == ["object", "aql"] and method == "POST" and self.site.cloud:
            body = req.json() if isinstance(req.json(), dict) else {}
            return self._search(req, str(body.get("qlQuery") or ""), param_int(req, "startAt", 0),
                                param_int(req, "maxResults", 50))
        if parts == ["aql", "objects"] and method == "GET" and not self.site.cloud:
            size = param_int(req, "resultPerPage", 25)
            return self._search(req, req.param("qlQuery") or req.param("iql") or "",
                                (max(param_int(req, "page", 1), 1) - 1) * size, size)
        if parts == ["object", "create"] and method == "POST":
            body = req.json() if isinstance(req.json(), dict) else {}
            kind = self.store.get("objecttype", str(body.get("objectTypeId", "")))
            if kind is None:
                raise JiraError(400, errors={"objectTypeId": f"No object type with id {body.get('objectTypeId')}"})
            values = self._values(kind, body.get("attributes"))
            if not values.get("Name"):
                raise JiraError(400, errors={"rlabel": "The object must have a value for its label attribute Name."})
            object_id = str(self.store.next_id("object", 1))
            doc = object_doc(object_id, kind["id"], values, self.site.now_str())
            self.store.put("object", object_id, doc, kind["id"])
            return json_response(201, self.render(doc, req, True))
        if len(parts) == 2 and parts[0] == "object":
            doc = self.store.get("object", parts[1])
            if doc is None:
                raise JiraError(404, f"No object found with id {parts[1]}.")
            if method == "PUT":
                body = req.json() if isinstance(req.json(), dict) else {}
                kind = self.store.get("objecttype", doc["objectTypeId"])
                doc["values"].update(self._values(kind, body.get("attributes")))
                doc["updated"] = doc["values"]["Updated"] = self.site.now_str()
                self.store.put("object", doc["id"], doc, doc["objectTypeId"])
            elif method == "DELETE":
                self.store.delete("object", doc["id"])
                return empty(204)
            return json_response(200, self.render(doc, req, True))
        if parts == ["objecttype", "create"] and method == "POST":
            return self._create_type(req)
        if len(parts) == 2 and parts[0] == "objecttypeattribute" and method == "POST":
            return self._create_attribute(req, parts[1])
        if parts == ["objectschema", "list"] and method == "GET":
            schemas = [self._schema(s, req) for s in self.store.all("objectschema")]
            if self.site.cloud:
                return json_response(200, {"startAt": 0, "maxResults": len(schemas), "total": len(schemas),
                                           "isLast": True, "values": schemas})
            return json_response(200, {"objectschemas": schemas})
        if len(parts) >= 3 and parts[0] == "objectschema" and parts[2] == "objecttypes" and method == "GET":
            return json_response(200, [self._type(t) for t in self.store.all("objecttype")
                                       if t["objectSchemaId"] == parts[1]])
        if len(parts) == 3 and parts[0] == "objecttype" and parts[2] == "attributes" and method == "GET":
            kind = self.store.get("objecttype", parts[1])
            if kind is None:
                raise JiraError(404, f"No object type with id {parts[1]}.")
            return json_response(200, [self._attribute(kind, a) for a in kind["attributes"]])
        raise JiraError(404, "null for uri: " + req.path)

    def _create_type(self, req: Request) -> object:
        """``{name, objectSchemaId, description?, iconId?}``: a new type with the system attributes (Key, Name as
        the label, Created, Updated); a name already in the schema is a 400."""
        body = req.json() if isinstance(req.json(), dict) else {}
        name, schema = str(body.get("name") or "").strip(), str(body.get("objectSchemaId") or "")
        if self.store.get("objectschema", schema) is None:
            raise JiraError(400, errors={"objectSchemaId": f"No object schema with id {schema or None}"})
        if not name or any(t["name"].lower() == name.lower() for t in self.store.all("objecttype")
                           if t["objectSchemaId"] == schema):
            raise JiraError(400, errors={"name": f"The object type name {name!r} is empty or already in use."})
        type_id = str(self.store.next_id("objecttype", len(self.store.all("objecttype")) + 1))
        kind = {"id": type_id, "name": name, "objectSchemaId": schema, "attributes": []}
        for attr in ("Key", "Name", "Created", "Updated"):
            kind["attributes"].append({"id": self._next_attribute(), "name": attr, "label": attr == "Name"})
        self.store.put("objecttype", type_id, kind)
        return json_response(201, self._type(kind))

    def _create_attribute(self, req: Request, type_id: str) -> object:
        """``{name, type: 0}``: a text attribute (the only default type simulated) added to the object type."""
        kind = self.store.get("objecttype", type_id)
        if kind is None:
            raise JiraError(404, f"No object type with id {type_id}.")
        body = req.json() if isinstance(req.json(), dict) else {}
        name = str(body.get("name") or "").strip()
        if not name or any(a["name"].lower() == name.lower() for a in kind["attributes"]):
            raise JiraError(400, errors={"name": f"The attribute name {name!r} is empty or already in use."})
        if body.get("type", 0) != 0:
            raise JiraError(400, errors={"type": "Only default (text) attributes are simulated."})
        attr = {"id": self._next_attribute(), "name": name, "label": False}
        kind["attributes"].append(attr)
        self.store.put("objecttype", type_id, kind)
        return json_response(201, self._attribute(kind, attr))

    def _next_attribute(self) -> str:
        used = [int(a["id"]) for t in self.store.all("objecttype") for a in t["attributes"]]
        return str(self.store.next_id("objecttypeattribute", max(used, default=99) + 1))

    def _values(self, kind: dict, attributes: object) -> dict:
        values = {}
        for item in attributes if isinstance(attributes, list) else []:
            attr = next((a for a in kind["attributes"] if isinstance(item, dict)
                         and a["id"] == str(item.get("objectTypeAttributeId"))), None)
            if attr is None or attr["name"] in ("Key", "Created", "Updated"):
                raise JiraError(400, errors={"objectTypeAttributeId": f"Attribute {item!r} is not writable on "
                                                                      f"object type {kind['name']}."})
            given = [v.get("value") for v in item.get("objectAttributeValues") or [] if isinstance(v, dict)]
            values[attr["name"]] = given[0] if given else None
        return values

    def _search(self, req: Request, text: str, start: int, size: int) -> object:
        try:
            query = jql.parse(text, word_ops=True)
            resolve = self._resolver()
            jql.check_fields(query.where, resolve)
            kinds = self._types_in(query.where)
            docs = [d for k in kinds for d in self.store.all("object", k)] if kinds else self.store.all("object")
            now = self.site.now()
            found = [d for d in docs if jql.matches(query.where, d, resolve, now)]
            found = jql.sort(sorted(found, key=lambda d: int(d["id"])), query.order, resolve)
        except jql.QueryError as exc:
            raise JiraError(400, errors={"iql": f"AQL query is invalid: {exc}"}) from exc
        include = param_bool(req, "includeAttributes", True)
        chunk = [self.render(d, req, include) for d in found[start:start + max(size, 1)]]
        types = {d["objectTypeId"] for d in found[start:start + max(size, 1)]}
        attrs = [self._attribute(t, a) for t in (self.store.get("objecttype", k) for k in sorted(types))
                 for a in t["attributes"]]
        if self.site.cloud:
            return json_response(200, {"startAt": start, "maxResults": size, "total": len(found),
                                       "isLast": start + size >= len(found), "values": chunk,
                                       "objectTypeAttributes": attrs})
        return json_response(200, {"objectEntries": chunk, "objectTypeAttributes": attrs,
                                   "totalFilterCount": len(found), "startIndex": start,
                                   "toIndex": start + len(chunk), "pageObjectSize": size,
                                   "pageNumber": start // max(size, 1) + 1, "pageSize": -(-len(found) // max(size, 1)),
                                   "qlQuery": text, "iql": text, "conversionPossible": False})

    def _types_in(self, node: object) -> list[str] | None:
        """Object types a top-level ``objectType = X`` / ``IN`` restricts the search to (a read shortcut)."""
        clauses = node[1] if isinstance(node, tuple) and node[0] == "and" else [node]
        for clause in clauses:
            if isinstance(clause, jql.Clause) and clause.field.lower() == "objecttype" and clause.op in ("=", "in"):
                names = clause.value if isinstance(clause.value, list) else [clause.value]
                wanted = {str(n).lower() for n in names}
                return [t["id"] for t in self.store.all("objecttype") if t["name"].lower() in wanted]
        return None

    def _resolver(self):
        types = {t["id"]: t for t in self.store.all("objecttype")}
        attribute_names = {a["name"].lower(): a["name"] for t in types.values() for a in t["attributes"]}
        fixed = {"objecttype": jql.FieldRef(lambda d: [types[d["objectTypeId"]]["name"]]),
                 "objecttypeid": jql.FieldRef(lambda d: [d["objectTypeId"]]),
                 "objectschema": jql.FieldRef(lambda d: ["IT Assets"]),
                 "objectschemaid": jql.FieldRef(lambda d: ["1"]),
                 "objectid": jql.FieldRef(lambda d: [d["id"]], "number"),
                 "label": jql.FieldRef(lambda d: [d["values"].get("Name")]),
                 "key": jql.FieldRef(lambda d: [d["objectKey"]], order=lambda d: int(d["id"]))}

        def resolve(name: str) -> jql.FieldRef:
            lowered = name.lower()
            if lowered in fixed:
                return fixed[lowered]
            if lowered in attribute_names:
                attr = attribute_names[lowered]
                return jql.FieldRef(lambda d: [d["values"].get(attr)] if d["values"].get(attr) is not None else [])
            raise jql.QueryError(f"No attribute or field named '{name}'.")
        return resolve

    def render(self, doc: dict, req: Request, include: bool) -> dict:
        kind = self.store.get("objecttype", doc["objectTypeId"])
        label = doc["values"].get("Name") or doc["objectKey"]
        body = {"id": doc["id"], "label": label, "name": label, "objectKey": doc["objectKey"],
                "objectType": self._type(kind), "created": doc["created"], "updated": doc["updated"],
                "hasAvatar": False, "_links": {"self": f"{self.base(req)}/object/{doc['id']}"}}
        if self.site.cloud:
            body.update({"workspaceId": self.site.workspace, "globalId": f"{self.site.workspace}:{doc['id']}"})
        if include:
            body["attributes"] = [
                {"id": f"{doc['id']}{attr['id']}", "objectTypeAttributeId": attr["id"], "objectId": doc["id"],
                 "objectAttributeValues": [{"value": doc["values"][attr["name"]],
                                            "displayValue": doc["values"][attr["name"]],
                                            "searchValue": doc["values"][attr["name"]], "referencedType": False}]}
                for attr in kind["attributes"] if doc["values"].get(attr["name"]) not in (None, "")]
        return body

    def _type(self, kind: dict) -> dict:
        body = {"id": kind["id"], "name": kind["name"], "objectSchemaId": kind["objectSchemaId"],
                "inherited": False, "abstractObjectType": False}
        if self.site.cloud:
            body["workspaceId"] = self.site.workspace
        return body

    def _attribute(self, kind: dict, attr: dict) -> dict:
        return {"id": attr["id"], "name": attr["name"], "label": attr["label"], "type": 0,
                "defaultType": {"id": 6 if attr["name"] in ("Created", "Updated") else 0,
                                "name": "DateTime" if attr["name"] in ("Created", "Updated") else "Text"},
                "editable": attr["name"] not in ("Key", "Created", "Updated"), "system": attr["name"] in
                ("Key", "Created", "Updated"), "objectType": self._type(kind)}

    def _schema(self, schema: dict, req: Request) -> dict:
        count = len(self.store.all("objecttype"))
        return {"id": schema["id"], "name": schema["name"], "objectSchemaKey": schema["objectSchemaKey"],
                "status": "Ok", "objectTypeCount": count,
                **({"workspaceId": self.site.workspace} if self.site.cloud else {})}
