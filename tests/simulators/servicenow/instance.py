"""The simulated instance: record reads and writes with ACLs, coercion and business rules.

Every API (Table, Attachment, Batch, Change Management) goes through this class, so the
rules apply the same way whichever endpoint a client uses.
"""

from __future__ import annotations

from . import rules, timeutil
from .query import SYS_ID_RE, Compiled, Compiler
from .schema import DATETIME, JOURNAL, REFERENCE, SCHEMA, Table
from .store import Store, new_sys_id
from .timeutil import Clock
from .wire import SYSTEM, SnError, User, acl_denied, not_found

ADMIN_TABLES = frozenset({"sys_user", "sys_user_group", "sys_user_grmember", "sys_properties", "chg_model",
                          "std_change_record_producer", "std_change_producer_version", "cmdb_rel_type"})
READ_ONLY_FIELDS = frozenset({"sys_created_on", "sys_created_by", "sys_updated_on", "sys_updated_by",
                              "sys_mod_count"})


def stringify(value: object) -> str:
    """Coerce a JSON value to the platform's string form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return stringify(value.get("value", value.get("display_value", "")))
    if isinstance(value, list):
        return ",".join(stringify(item) for item in value)
    return str(value)


class Instance:
    """Record service of one simulated instance."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.schema = SCHEMA
        self.clock = clock

    # -- context ----------------------------------------------------------------------------

    def table(self, name: str) -> Table:
        if name not in self.schema:
            raise SnError(400, f"Invalid table {name}", None)
        return self.schema[name]

    def property(self, name: str, default: str = "") -> str:
        rows = self.store.find(self.schema["sys_properties"], name=name)
        return rows[0]["value"] if rows else default

    def user_tz(self, user: User | None) -> str:
        if user is not None and user.time_zone:
            return user.time_zone
        return self.property("glide.sys.default.tz", "UTC")

    def script(self, user: User | None) -> timeutil.ScriptContext:
        user = user or SYSTEM
        return timeutil.ScriptContext(user.sys_id, user.user_name, self.user_tz(user), self.clock.now())

    def compile(self, user: User | None, table: Table, encoded: str,
                filters: list[tuple[str, str]] | None = None) -> Compiled:
        compiler = Compiler(self.store, self.schema, self.script(user))
        compiled = compiler.compile(table, encoded or "")
        if filters:
            where, params = compiler.filters(table, filters)
            compiled.where = f"({compiled.where}) AND ({where})"
            compiled.params += params
        if compiled.invalid and self.property("glide.invalid_query.returns_no_rows") == "true":
            compiled.where, compiled.params = "0", []
        return compiled

    # -- reads ------------------------------------------------------------------------------

    def query(self, user: User | None, table: Table, encoded: str = "", filters=None, limit: int | None = None,
              offset: int = 0, count: bool = True) -> tuple[list[dict], int | None]:
        compiled = self.compile(user, table, encoded, filters)
        with self.store.lock:
            total = self.store.count(table, compiled.where, compiled.params) if count else None
            rows = self.store.select(table, compiled.where, compiled.params, compiled.order, limit, offset)
        return rows, total

    def get(self, table: Table, sys_id: str) -> dict | None:
        return self.store.get(table, sys_id)

    def require(self, table: Table, sys_id: str) -> dict:
        row = self.get(table, sys_id)
        if row is None:
            raise not_found()
        return row

    # -- ACLs -------------------------------------------------------------------------------

    def check_write(self, user: User, table: Table, operation: str, row: dict | None = None) -> None:
        if user.has_role("admin"):
            return
        if table.name == "sysapproval_approver" and operation == "Update" and row is not None:
            if row.get("approver") == user.sys_id:
                return
            raise acl_denied(operation)
        if table.root in ADMIN_TABLES or table.name in ADMIN_TABLES or table.name == "sysapproval_approver":
            raise acl_denied(operation)
        if not user.has_role("itil", "change_manager"):
            raise acl_denied(operation)

    # -- coercion ---------------------------------------------------------------------------

    def coerce(self, user: User, table: Table, payload: dict, input_display: bool = False,
               inserting: bool = False) -> tuple[dict[str, str], dict[str, str], list[str]]:
        """Split a write body into column values and journal entries; returns ignored keys too."""
        values: dict[str, str] = {}
        journal: dict[str, str] = {}
        ignored: list[str] = []
        for key, raw in payload.items():
            fdef = table.fields.get(key)
            if fdef is None or key in READ_ONLY_FIELDS or (key == "sys_id" and not inserting):
                ignored.append(key)
                continue
            value = stringify(raw)
            if fdef.type == JOURNAL:
                if value.strip():
                    journal[key] = value
                continue
            if key == "sys_class_name":
                if not inserting or not self.schema.is_instance_of(value, table.name):
                    ignored.append(key)
                    continue
            if fdef.type == REFERENCE and value:
                value = self.resolve_reference(fdef.reference, value)
            elif fdef.type == DATETIME and value:
                value = timeutil.from_local(value, self.user_tz(user)) if input_display else _normalise_dt(value)
            elif input_display and fdef.choices and value not in fdef.choices:
                value = fdef.choice_value(value) or value
            values[key] = value
        return values, journal, ignored

    def resolve_reference(self, table_name: str | None, value: str) -> str:
        """Accept a display value (or user name) where a sys_id is expected."""
        if table_name not in self.schema or SYS_ID_RE.match(value) or value == "global":
            return value
        target = self.schema[table_name]
        if target.display != "sys_id":
            rows = self.store.select(target, f"t.\"{target.display}\" = ?", [value], limit=1)
            if rows:
                return rows[0]["sys_id"]
        if table_name == "sys_user":
            rows = self.store.find(target, user_name=value)
            if rows:
                return rows[0]["sys_id"]
        return value

    # -- writes -----------------------------------------------------------------------------

    def insert(self, user: User, table: Table, payload: dict, input_display: bool = False,
               system: bool = False) -> dict:
        if not system:
            self.check_write(user, table, "Insert")
        values, journal, _ignored = self.coerce(user, table, payload, input_display, inserting=True)
        with self.store.transaction():
            concrete = self.schema[values.get("sys_class_name") or table.name]
            row = self._defaults(user, concrete)
            row.update(values)
            if self.store.get(self.schema[concrete.root], row["sys_id"]) is not None:
                raise SnError(403, "Operation Failed", f"Duplicate entry '{row['sys_id']}' for key 'PRIMARY'")
            rules.before_insert(self, user, concrete, row, set(values))
            self.store.insert(concrete, row)
            for element, text in journal.items():
                self.add_journal(user, concrete, row["sys_id"], element, text)
            rules.after_insert(self, user, concrete, row)
            return self.store.get(concrete, row["sys_id"]) or row

    def update(self, user: User, table: Table, sys_id: str, payload: dict, input_display: bool = False,
               system: bool = False) -> dict:
        with self.store.transaction():
            old = self.require(table, sys_id)
            if not system:
                self.check_write(user, table, "Update", old)
            concrete = self.schema[old.get("sys_class_name") or table.name]
            values, journal, _ignored = self.coerce(user, concrete, payload, input_display)
            values.pop("sys_class_name", None)
            new = {**old, **values}
            rules.before_update(self, user, concrete, old, new, set(values))
            changes = {k: v for k, v in new.items() if old.get(k) != v}
            if changes or journal:
                changes.update(sys_updated_on=self.clock.now_str(), sys_updated_by=user.user_name,
                               sys_mod_count=str(int(old.get("sys_mod_count") or 0) + 1))
                self.store.update(concrete, sys_id, changes)
            for element, text in journal.items():
                self.add_journal(user, concrete, sys_id, element, text)
            new = self.store.get(concrete, sys_id) or new
            rules.after_update(self, user, concrete, old, new)
            return self.store.get(concrete, sys_id) or new

    def delete(self, user: User, table: Table, sys_id: str, system: bool = False) -> None:
        with self.store.transaction():
            row = self.require(table, sys_id)
            if not system:
                self.check_write(user, table, "Delete", row)
            self.store.delete(table, sys_id)
            rules.after_delete(self, table, row)

    def add_journal(self, user: User, table: Table, sys_id: str, element: str, text: str) -> None:
        journal = self.schema["sys_journal_field"]
        row = self._defaults(user, journal)
        row.update(element_id=sys_id, element=element, name=table.name, value=text)
        self.store.insert(journal, row)

    def _defaults(self, user: User, table: Table) -> dict[str, str]:
        now = self.clock.now_str()
        row = {name: fdef.default for name, fdef in table.fields.items()}
        row.update(sys_id=new_sys_id(), sys_created_on=now, sys_updated_on=now, sys_created_by=user.user_name,
                   sys_updated_by=user.user_name, sys_mod_count="0")
        if "sys_class_name" in table.fields:
            row["sys_class_name"] = table.name
        return row


def _normalise_dt(value: str) -> str:
    parsed = timeutil.parse_utc(value)
    if parsed is None or len(value.strip()) <= 10:
        return value
    return parsed.strftime(timeutil.FMT)
