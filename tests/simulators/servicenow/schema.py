"""Data dictionary of the simulated instance: tables, inheritance, field types and choice lists.

Every table family (a root table plus the classes that extend it) is stored in one SQLite table
whose columns are the union of the family's fields, the way the platform stores ``task`` and
``cmdb_ci``.  Field definitions may be overridden by a child class (choices, defaults, labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

STRING, INTEGER, DECIMAL, BOOLEAN = "string", "integer", "decimal", "boolean"
DATETIME, DATE, REFERENCE, CHOICE = "glide_date_time", "glide_date", "reference", "choice"
JOURNAL, SYS_ID, CLASS_NAME = "journal", "GUID", "sys_class_name"
NUMERIC_TYPES = frozenset({INTEGER, DECIMAL})


@dataclass(frozen=True)
class Field:
    name: str
    type: str = STRING
    label: str = ""
    reference: str | None = None
    choices: dict[str, str] | None = None
    default: str = ""

    @property
    def is_reference(self) -> bool:
        return self.type == REFERENCE

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    def choice_label(self, value: str) -> str:
        if self.choices and value in self.choices:
            return self.choices[value]
        return value

    def choice_value(self, label: str) -> str | None:
        """Map a choice label (case-insensitive) back to its value; None when no label matches."""
        if not self.choices:
            return None
        wanted = label.strip().lower()
        for value, text in self.choices.items():
            if text.lower() == wanted:
                return value
        return None


@dataclass
class Table:
    name: str
    label: str
    parent: str | None = None
    own_fields: dict[str, Field] = field(default_factory=dict)
    display: str = "name"
    number_prefix: str | None = None
    number_start: int = 1
    indexes: tuple[str, ...] = ()
    # filled by Schema
    fields: dict[str, Field] = field(default_factory=dict)
    root: str = ""
    children: list[str] = field(default_factory=list)

    @property
    def storage(self) -> str:
        return f"t_{self.root}"


def _f(name: str, type_: str = STRING, ref: str | None = None, choices: dict[str, str] | None = None,
       default: str = "", label: str = "") -> Field:
    return Field(name, type_, label or name.replace("_", " ").capitalize(), ref, choices, default)


def _fields(*items: Field) -> dict[str, Field]:
    return {item.name: item for item in items}


def _labels(*values: str) -> dict[str, str]:
    return {value: value for value in values}


SYS_FIELDS = _fields(
    _f("sys_id", SYS_ID), _f("sys_created_on", DATETIME), _f("sys_created_by"),
    _f("sys_updated_on", DATETIME), _f("sys_updated_by"), _f("sys_mod_count", INTEGER, default="0"),
    _f("sys_tags"),
)

IMPACT = {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"}
PRIORITY = {"1": "1 - Critical", "2": "2 - High", "3": "3 - Moderate", "4": "4 - Low", "5": "5 - Planning"}
APPROVAL = {"not requested": "Not Yet Requested", "requested": "Requested", "approved": "Approved",
            "rejected": "Rejected", "cancelled": "Cancelled", "not_required": "No Longer Required",
            "skipped": "Skipped", "duplicate": "Duplicate"}
INCIDENT_STATE = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed",
                  "8": "Canceled"}
CHANGE_STATE = {"-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled", "-1": "Implement",
                "0": "Review", "3": "Closed", "4": "Canceled"}
CHANGE_TASK_STATE = {"-5": "Pending", "1": "Open", "2": "In Progress", "3": "Closed", "4": "Canceled"}
# the Madrid problem state model (com.snc.best_practice.problem.madrid.state_model), default on new instances
PROBLEM_STATE = {"101": "New", "102": "Assess", "103": "Root Cause Analysis", "104": "Fix in Progress",
                 "106": "Resolved", "107": "Closed"}
PROBLEM_RESOLUTION = {"fix_applied": "Fix Applied", "risk_accepted": "Risk Accepted", "duplicate": "Duplicate",
                      "canceled": "Canceled"}
PROBLEM_TASK_STATE = {"151": "New", "152": "Assess", "154": "Work in Progress", "157": "Closed"}
INSTALL_STATUS = {"0": "Implementing", "1": "Installed", "2": "On Order", "3": "In Maintenance",
                  "4": "Pending Install", "5": "Pending Repair", "6": "In Stock", "7": "Retired",
                  "8": "Stolen", "100": "Absent"}
OPERATIONAL_STATUS = {"1": "Operational", "2": "Non-Operational", "3": "Repair in Progress",
                      "4": "DR Standby", "5": "Ready", "6": "Retired", "7": "Pipeline", "8": "Catalog"}
CONFLICT_TYPE = {"blackout": "Blackout", "child_blackout": "Child CI Blackout",
                 "parent_blackout": "Parent CI Blackout", "ci_already_scheduled": "CI Already Scheduled",
                 "child_ci_already_scheduled": "Child CI Already Scheduled",
                 "parent_ci_already_scheduled": "Parent CI Already Scheduled",
                 "not_in_maintenance_window": "Not In Maintenance Window",
                 "assigned_to_already_scheduled": "Assigned To Already Scheduled"}

TASK_STATE = {"-5": "Pending", "1": "Open", "2": "Work in Progress", "3": "Closed Complete",
              "4": "Closed Incomplete", "7": "Closed Skipped"}

TASK_FIELDS = _fields(
    _f("number"), _f("state", INTEGER, choices=TASK_STATE, default="1"),
    _f("active", BOOLEAN, default="true"), _f("short_description"), _f("description"),
    _f("assignment_group", REFERENCE, "sys_user_group"), _f("assigned_to", REFERENCE, "sys_user"),
    _f("opened_by", REFERENCE, "sys_user"), _f("opened_at", DATETIME), _f("closed_at", DATETIME),
    _f("closed_by", REFERENCE, "sys_user"), _f("cmdb_ci", REFERENCE, "cmdb_ci"),
    _f("priority", INTEGER, choices=PRIORITY, default="4"), _f("impact", INTEGER, choices=IMPACT, default="3"),
    _f("urgency", INTEGER, choices=IMPACT, default="3"),
    _f("approval", CHOICE, choices=APPROVAL, default="not requested"), _f("approval_set", DATETIME),
    _f("approval_history", JOURNAL), _f("comments", JOURNAL), _f("work_notes", JOURNAL),
    _f("work_notes_list"), _f("watch_list"), _f("correlation_id"), _f("correlation_display"),
    _f("company"), _f("location", REFERENCE, "cmn_location"), _f("parent", REFERENCE, "task"),
    _f("sys_class_name", CLASS_NAME), _f("sys_domain", REFERENCE, "sys_user_group", default="global"),
    _f("sys_domain_path", default="/"), _f("task_effective_number"), _f("contact_type"),
    _f("escalation", INTEGER, default="0"), _f("upon_approval", default="proceed"),
    _f("upon_reject", default="cancel"), _f("made_sla", BOOLEAN, default="true"),
    _f("knowledge", BOOLEAN, default="false"), _f("due_date", DATETIME), _f("expected_start", DATETIME),
    _f("work_start", DATETIME), _f("work_end", DATETIME), _f("business_duration"),
    _f("calendar_duration"), _f("reassignment_count", INTEGER, default="0"), _f("order", INTEGER),
    _f("close_notes"), _f("universal_request", REFERENCE, "task"),
)

INCIDENT_FIELDS = _fields(
    _f("state", INTEGER, choices=INCIDENT_STATE, default="1"),
    _f("incident_state", INTEGER, choices=INCIDENT_STATE, default="1"),
    _f("priority", INTEGER, choices=PRIORITY, default="5"),
    _f("caller_id", REFERENCE, "sys_user"), _f("category", default="inquiry"), _f("subcategory"),
    _f("hold_reason", INTEGER, choices={"1": "Awaiting Caller", "3": "Awaiting Problem",
                                        "4": "Awaiting Vendor", "5": "Awaiting Change"}),
    _f("close_code", CHOICE, label="Resolution code", choices=_labels(
        "Duplicate", "Known error", "No resolution provided", "Resolved by caller", "Resolved by change",
        "Resolved by problem", "Resolved by request", "Solution provided", "Workaround provided",
        "User error")),
    _f("close_notes", label="Resolution notes"), _f("resolved_at", DATETIME),
    _f("resolved_by", REFERENCE, "sys_user"), _f("reopen_count", INTEGER, default="0"),
    _f("child_incidents", INTEGER, default="0"), _f("parent_incident", REFERENCE, "incident"),
    _f("problem_id", REFERENCE, "problem", label="Problem"), _f("rfc", REFERENCE, "change_request"),
    _f("caused_by", REFERENCE, "change_request"),
    _f("severity", INTEGER, choices={"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"}, default="3"),
    _f("notify", INTEGER, default="1"), _f("business_service", REFERENCE, "cmdb_ci_service"),
)

CHANGE_FIELDS = _fields(
    _f("state", INTEGER, choices=CHANGE_STATE, default="-5"),
    _f("type", CHOICE, choices={"normal": "Normal", "standard": "Standard", "emergency": "Emergency"},
       default="normal"),
    _f("chg_model", REFERENCE, "chg_model"),
    _f("risk", INTEGER, choices={"1": "Very High", "2": "High", "3": "Moderate", "4": "Low"}, default="3"),
    _f("category", default="Other"), _f("on_hold", BOOLEAN, default="false"), _f("on_hold_reason"),
    _f("on_hold_task"), _f("start_date", DATETIME), _f("end_date", DATETIME),
    _f("requested_by", REFERENCE, "sys_user"), _f("requested_by_date", DATETIME), _f("reason"),
    _f("justification"), _f("implementation_plan"), _f("backout_plan"), _f("test_plan"),
    _f("risk_impact_analysis"), _f("cab_required", BOOLEAN, default="false"), _f("cab_date", DATE),
    _f("cab_delegate", REFERENCE, "sys_user"), _f("cab_recommendation"), _f("phase", default="requested"),
    _f("phase_state", default="open"), _f("scope", INTEGER, default="3"),
    _f("unauthorized", BOOLEAN, default="false"), _f("outside_maintenance_schedule", BOOLEAN, default="false"),
    _f("production_system", BOOLEAN, default="false"),
    _f("conflict_status", CHOICE, choices=_labels("Not Run", "No Conflict", "Conflict"), default="Not Run"),
    _f("conflict_last_run", DATETIME),
    _f("close_code", CHOICE, label="Close code", choices={
        "successful": "Successful", "successful_issues": "Successful with issues",
        "unsuccessful": "Unsuccessful"}),
    _f("close_notes", label="Close notes"),
    _f("std_change_producer_version", REFERENCE, "std_change_producer_version"),
)

CHANGE_TASK_FIELDS = _fields(
    _f("state", INTEGER, choices=CHANGE_TASK_STATE, default="1"),
    _f("change_request", REFERENCE, "change_request"),
    _f("change_task_type", CHOICE, choices={"planning": "Planning", "implementation": "Implementation",
                                            "testing": "Testing", "review": "Review"}, default="planning"),
    _f("planned_start_date", DATETIME), _f("planned_end_date", DATETIME),
    _f("on_hold", BOOLEAN, default="false"), _f("on_hold_reason"),
    _f("close_code", CHOICE, choices={"successful": "Successful", "successful_issues": "Successful with issues",
                                      "unsuccessful": "Unsuccessful"}),
)

PROBLEM_FIELDS = _fields(
    _f("state", INTEGER, choices=PROBLEM_STATE, default="101"),
    _f("problem_state", INTEGER, choices=PROBLEM_STATE, default="101"),
    _f("priority", INTEGER, choices=PRIORITY, default="5"),
    _f("short_description", label="Problem statement"),
    _f("category"), _f("subcategory"), _f("business_service", REFERENCE, "cmdb_ci_service", label="Service"),
    _f("service_offering"), _f("first_reported_by_task", REFERENCE, "task", label="Origin task"),
    _f("resolution_code", CHOICE, choices=PROBLEM_RESOLUTION, label="Resolution code"),
    _f("duplicate_of", REFERENCE, "problem", label="Duplicate of"),
    _f("cause_notes", label="Cause notes"), _f("fix_notes", label="Fix notes"), _f("workaround"),
    _f("close_notes", label="Close notes"),
    _f("known_error", BOOLEAN, default="false"), _f("major_problem", BOOLEAN, default="false"),
    _f("workaround_applied", BOOLEAN, default="false"), _f("related_incidents", INTEGER, default="0"),
    _f("rfc", REFERENCE, "change_request", label="Change request"), _f("review_outcome"),
    _f("confirmed_at", DATETIME), _f("confirmed_by", REFERENCE, "sys_user"),
    _f("fix_at", DATETIME), _f("fix_by", REFERENCE, "sys_user"),
    _f("resolved_at", DATETIME), _f("resolved_by", REFERENCE, "sys_user"),
    _f("reopened_at", DATETIME), _f("reopened_by", REFERENCE, "sys_user"), _f("reopen_count", INTEGER, default="0"),
    _f("fix_communicated_at", DATETIME), _f("fix_communicated_by", REFERENCE, "sys_user"),
    _f("workaround_communicated_at", DATETIME), _f("workaround_communicated_by", REFERENCE, "sys_user"),
)

PROBLEM_TASK_FIELDS = _fields(
    _f("state", INTEGER, choices=PROBLEM_TASK_STATE, default="151"),
    _f("problem", REFERENCE, "problem", label="Source problem"),
    _f("problem_task_type", CHOICE, choices={"rca": "Root Cause Analysis", "general": "General"},
       default="general", label="Type"),
    _f("cause_code"), _f("cause_notes", label="Cause notes"), _f("fix_notes", label="Proposed fix notes"),
    _f("workaround"), _f("close_notes", label="Close notes"),
    _f("close_code", CHOICE, choices={"completed": "Completed", "canceled": "Canceled"}, label="Close code"),
    _f("other_reason", label="Canceled reason"),
    _f("started_at", DATETIME), _f("started_by", REFERENCE, "sys_user"),
    _f("reopened_at", DATETIME), _f("reopened_by", REFERENCE, "sys_user"), _f("reopen_count", INTEGER, default="0"),
)

CI_FIELDS = _fields(
    _f("name"), _f("sys_class_name", CLASS_NAME), _f("fqdn"), _f("host_name"), _f("ip_address"),
    _f("mac_address"), _f("dns_domain"), _f("serial_number"), _f("asset_tag"), _f("manufacturer"),
    _f("model_id"), _f("classification"), _f("cost", DECIMAL), _f("cost_cc", default="USD"),
    _f("location", REFERENCE, "cmn_location"), _f("company"), _f("assigned_to", REFERENCE, "sys_user"),
    _f("support_group", REFERENCE, "sys_user_group"), _f("short_description"),
    _f("environment", CHOICE, choices=_labels("Development", "Production", "Test")),
    _f("install_status", INTEGER, choices=INSTALL_STATUS, default="1"),
    _f("operational_status", INTEGER, choices=OPERATIONAL_STATUS, default="1"),
    _f("maintenance_schedule", REFERENCE, "cmn_schedule"),
    _f("sys_domain", REFERENCE, "sys_user_group", default="global"),
    _f("category"), _f("subcategory"), _f("vendor"), _f("install_date", DATETIME),
    _f("discovery_source"), _f("first_discovered", DATETIME), _f("last_discovered", DATETIME),
)
COMPUTER_FIELDS = _fields(
    _f("os"), _f("os_version"), _f("os_service_pack"), _f("cpu_type"), _f("cpu_count", INTEGER),
    _f("cpu_core_count", INTEGER), _f("ram", INTEGER), _f("disk_space", DECIMAL),
    _f("virtual", BOOLEAN, default="false"),
)

SCHEDULE_FIELDS = _fields(
    _f("name"), _f("sys_class_name", CLASS_NAME), _f("type"), _f("time_zone"), _f("description"),
    _f("parent", REFERENCE, "cmn_schedule"),
)

TABLES: list[Table] = [
    Table("task", "Task", own_fields=TASK_FIELDS, display="number", number_prefix="TASK",
          number_start=10001, indexes=("number", "sys_class_name", "state", "correlation_id",
                                       "sys_updated_on", "sys_created_on", "cmdb_ci", "assignment_group")),
    Table("incident", "Incident", "task", INCIDENT_FIELDS, "number", "INC", 10001, indexes=("problem_id",)),
    Table("change_request", "Change Request", "task", CHANGE_FIELDS, "number", "CHG", 30001),
    Table("change_task", "Change Task", "task", CHANGE_TASK_FIELDS, "number", "CTASK", 10001),
    Table("problem", "Problem", "task", PROBLEM_FIELDS, "number", "PRB", 1),
    Table("problem_task", "Problem Task", "task", PROBLEM_TASK_FIELDS, "number", "PTASK", 1),
    Table("sys_user", "User", own_fields=_fields(
        _f("user_name"), _f("first_name"), _f("last_name"), _f("name"), _f("email"),
        _f("active", BOOLEAN, default="true"), _f("roles"), _f("time_zone"), _f("title"), _f("department"),
        _f("manager", REFERENCE, "sys_user"), _f("location", REFERENCE, "cmn_location"),
        _f("locked_out", BOOLEAN, default="false")), indexes=("user_name", "name")),
    Table("sys_user_group", "Group", own_fields=_fields(
        _f("name"), _f("description"), _f("manager", REFERENCE, "sys_user"), _f("email"),
        _f("active", BOOLEAN, default="true"), _f("type"), _f("parent", REFERENCE, "sys_user_group")),
        indexes=("name",)),
    Table("sys_user_grmember", "Group Member", own_fields=_fields(
        _f("user", REFERENCE, "sys_user"), _f("group", REFERENCE, "sys_user_group")),
        display="sys_id", indexes=("group", "user")),
    Table("sysapproval_approver", "Approval", own_fields=_fields(
        _f("approver", REFERENCE, "sys_user"), _f("sysapproval", REFERENCE, "task"), _f("document_id"),
        _f("source_table"), _f("state", CHOICE, choices=APPROVAL, default="requested"),
        _f("comments", JOURNAL), _f("group"), _f("due_date", DATETIME), _f("expected_start", DATETIME),
        _f("approval_source"), _f("wf_activity"), _f("order", INTEGER)),
        display="sysapproval", indexes=("sysapproval", "approver", "state")),
    Table("task_ci", "CIs Affected", own_fields=_fields(
        _f("task", REFERENCE, "task"), _f("ci_item", REFERENCE, "cmdb_ci"), _f("applied", BOOLEAN, default="false"),
        _f("applied_date", DATE), _f("manual_proposed_change", BOOLEAN, default="false")),
        display="ci_item", indexes=("task", "ci_item")),
    Table("chg_model", "Change Model", own_fields=_fields(
        _f("name"), _f("description"), _f("active", BOOLEAN, default="true"), _f("default_change_type"))),
    Table("std_change_record_producer", "Standard Change Template", own_fields=_fields(
        _f("name"), _f("short_description"), _f("category"), _f("active", BOOLEAN, default="true"),
        _f("current_version", REFERENCE, "std_change_producer_version"))),
    Table("std_change_producer_version", "Standard Change Template Version", own_fields=_fields(
        _f("name"), _f("version", INTEGER, default="1"),
        _f("std_change_producer", REFERENCE, "std_change_record_producer"), _f("template"),
        _f("short_description")), indexes=("name",)),
    Table("cmdb_ci", "Configuration Item", own_fields=CI_FIELDS,
          indexes=("name", "sys_class_name", "fqdn", "host_name", "ip_address", "sys_updated_on")),
    Table("cmdb_ci_hardware", "Hardware", "cmdb_ci"),
    Table("cmdb_ci_computer", "Computer", "cmdb_ci_hardware", COMPUTER_FIELDS),
    Table("cmdb_ci_server", "Server", "cmdb_ci_computer"),
    Table("cmdb_ci_linux_server", "Linux Server", "cmdb_ci_server"),
    Table("cmdb_ci_win_server", "Windows Server", "cmdb_ci_server"),
    Table("cmdb_ci_service", "Business Service", "cmdb_ci", _fields(
        _f("busines_criticality", default="3 - less critical"),
        _f("service_classification", default="Business Service"))),
    Table("cmdb_rel_type", "CI Relationship Type", own_fields=_fields(
        _f("name"), _f("sys_name"), _f("parent_descriptor"), _f("child_descriptor")), indexes=("name", "sys_name")),
    # sys_class_name on relations: servicenow.itsm's configuration_item module reads it (servicenow-api.md §6.9)
    Table("cmdb_rel_ci", "CI Relationship", own_fields=_fields(
        _f("sys_class_name", CLASS_NAME), _f("parent", REFERENCE, "cmdb_ci"), _f("child", REFERENCE, "cmdb_ci"),
        _f("type", REFERENCE, "cmdb_rel_type"), _f("connection_strength", default="always"),
        _f("percent_outage", INTEGER), _f("port")), display="sys_id", indexes=("parent", "child")),
    Table("cmn_location", "Location", own_fields=_fields(
        _f("name"), _f("street"), _f("city"), _f("state"), _f("country"), _f("zip"), _f("time_zone"))),
    Table("cmn_schedule", "Schedule", own_fields=SCHEDULE_FIELDS, indexes=("sys_class_name", "type")),
    Table("cmn_schedule_condition", "Condition Schedule", "cmn_schedule", _fields(
        _f("applies_to", default="cmdb_ci"), _f("condition"))),
    Table("cmn_schedule_blackout", "Blackout Schedule", "cmn_schedule_condition",
          _fields(_f("type", default="blackout"))),
    Table("cmn_schedule_maintenance", "Maintenance Schedule", "cmn_schedule_condition",
          _fields(_f("type", default="maintenance"))),
    Table("cmn_schedule_span", "Schedule Entry", own_fields=_fields(
        _f("schedule", REFERENCE, "cmn_schedule"), _f("name"),
        _f("type", CHOICE, choices={"": "", "exclude": "Excluded", "maintenance": "Maintenance",
                                    "blackout": "Blackout", "on_call": "On Call"}),
        _f("show_as", CHOICE, choices=_labels("busy", "free", "tentative", "on_call"), default="busy"),
        _f("start_date_time"), _f("end_date_time"), _f("all_day", BOOLEAN, default="false"),
        _f("repeat_type"), _f("repeat_count", INTEGER, default="1"), _f("days_of_week"),
        _f("repeat_until"), _f("monthly_type"), _f("yearly_type"), _f("float_week"), _f("float_day"),
        _f("month")), indexes=("schedule",)),
    Table("conflict", "Conflict", own_fields=_fields(
        _f("change", REFERENCE, "change_request"), _f("configuration_item", REFERENCE, "cmdb_ci"),
        _f("conflicting_change", REFERENCE, "change_request"),
        _f("related_configuration_item", REFERENCE, "cmdb_ci"), _f("schedule", REFERENCE, "cmn_schedule"),
        _f("type", CHOICE, choices=CONFLICT_TYPE), _f("last_checked", DATETIME)),
        display="sys_id", indexes=("change",)),
    Table("sys_journal_field", "Journal Entry", own_fields=_fields(
        _f("element_id"), _f("element"), _f("name"), _f("value")),
        display="sys_id", indexes=("element_id",)),
    Table("sys_attachment", "Attachment", own_fields=_fields(
        _f("file_name"), _f("table_name"), _f("table_sys_id"), _f("content_type"),
        _f("size_bytes", INTEGER), _f("size_compressed", INTEGER), _f("compressed", default="true"),
        _f("hash"), _f("chunk_size_bytes", default="700000"), _f("state", default="available"),
        _f("average_image_color"), _f("image_height"), _f("image_width"), _f("download_link"),
        _f("encryption_context")), display="file_name", indexes=("table_sys_id", "table_name")),
    Table("sys_properties", "System Property", own_fields=_fields(
        _f("name"), _f("value"), _f("type", default="string"), _f("description")), indexes=("name",)),
]


class Schema:
    """Resolved data dictionary: inherited field sets, storage roots and class hierarchies."""

    def __init__(self, tables: list[Table]) -> None:
        self.tables = {table.name: table for table in tables}
        for table in tables:
            chain = self.ancestors(table.name)
            table.root = chain[-1]
            merged: dict[str, Field] = dict(SYS_FIELDS)
            for name in reversed(chain):
                merged.update(self.tables[name].own_fields)
            table.fields = merged
            if table.parent:
                self.tables[table.parent].children.append(table.name)
        for table in tables:
            if table.display not in table.fields and table.display != "sys_id":
                table.display = "sys_id"
            if "sys_class_name" in table.fields:
                table.fields["sys_class_name"] = replace(
                    table.fields["sys_class_name"],
                    choices={name: self.tables[name].label for name in self.descendants(table.root)},
                    default=table.name)

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    def ancestors(self, name: str) -> list[str]:
        """The table itself followed by its parents up to the root."""
        chain = [name]
        while self.tables[chain[-1]].parent:
            chain.append(self.tables[chain[-1]].parent)
        return chain

    def descendants(self, name: str) -> list[str]:
        """The table itself and every class extending it."""
        result = [name]
        for child in self.tables[name].children:
            result.extend(self.descendants(child))
        return result

    def is_instance_of(self, class_name: str, table: str) -> bool:
        return class_name in self.tables and table in self.ancestors(class_name)

    def roots(self) -> list[Table]:
        return [table for table in self.tables.values() if table.parent is None]

    def storage_columns(self, root: str) -> dict[str, Field]:
        """Union of the fields of every class stored in the root's SQLite table."""
        columns: dict[str, Field] = {}
        for name in self.descendants(root):
            for fname, fdef in self.tables[name].fields.items():
                columns.setdefault(fname, fdef)
        return columns

    def field_for_row(self, table: Table, row: dict, name: str) -> Field | None:
        """The field definition as the row's concrete class sees it (choices differ per class)."""
        class_name = row.get("sys_class_name") or table.name
        concrete = self.tables.get(class_name, table)
        return concrete.fields.get(name) or table.fields.get(name)


SCHEMA = Schema(TABLES)
