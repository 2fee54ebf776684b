# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CI pipeline a change came from (issue 19). FOR INTERNAL COLLECTION USE ONLY.

One table (``SYSTEMS``) says, per CI system, which of its standard variables give each canonical value
(``KEYS``); ``detect`` reads them, ``block`` writes them as the readable block of a change's description,
``extras`` as the change's ``fields`` (``pipeline_<key>``) and ``read`` gets them back from a change record on
every backend:

- ``local``: columns of the changes table (``pipeline_<key>``, backends/local/schema.py), returned in ``fields``;
- ``jsm``: the ``fields`` kept in the issue property ``opsgate.record`` (searchable by JQL);
- ``servicenow``: ``change_request`` has no column for a repository, a commit or a pipeline (ServiceNow's DevOps
  data lives in its own ``sn_devops_*`` tables, which need the DevOps plugin), and a write to a column the table
  lacks is dropped without a word, so the record is the description's block itself, which ``read`` parses. A
  change made from a standard change template keeps the template's description; the recorder's recap work note
  carries the same block, which ``read`` finds in the record's ``notes`` (``change_request_info`` with
  ``include: [notes]``).

Pure: no Ansible, no I/O. Nothing is read but the names in the table (never a token: GitHub's ``GITHUB_TOKEN``,
GitLab's ``CI_JOB_TOKEN``, Azure's ``SYSTEM_ACCESSTOKEN`` and their kin are not in it, and a test keeps it so),
nothing is written that is not set, and a URL loses any ``user:password@`` it carries.

The commit time comes from the CI system when it gives one (GitLab's ``CI_COMMIT_TIMESTAMP``) or from
``ITSM_PIPELINE_COMMIT_TIME``; git is never run: the controller may have no checkout, or one of another commit
than the one deployed, and a process per task is not cheap.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ._errors import ItsmValidationError
from ._records import normalise_datetime

#: the canonical values, in the order the block shows them
KEYS = ("system", "repository", "branch", "commit", "commit_time", "url", "run_number", "triggered_by", "job_id",
        "job_template")
#: how a value is named in a record's ``fields`` (and a local column)
EXTRA_PREFIX = "pipeline_"
#: any CI (or a person) may give or override a value with ITSM_PIPELINE_<KEY> (ITSM_PIPELINE_COMMIT_TIME, ...)
OVERRIDE_PREFIX = "ITSM_PIPELINE_"
#: the recorder's word on whether a change_gate task ran in the run (close notes and recap note)
GATE_USED_LINE = "Change gate used in this run: "
BLOCK_START = "--- CI pipeline (opsgate.itsm) ---"
BLOCK_END = "--- end of CI pipeline ---"
LABELS = {"system": "CI system", "repository": "Repository", "branch": "Branch", "commit": "Commit",
          "commit_time": "Commit time", "url": "Pipeline", "run_number": "Run number",
          "triggered_by": "Triggered by", "job_id": "Job id", "job_template": "Job template"}
_KEY_OF_LABEL = {label: key for key, label in LABELS.items()}
_URL_CREDENTIALS = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", re.I)
# A name that may hold a credential: the table must hold none (tests/unit/.../test_pipeline.py checks it).
SECRET_NAME = re.compile(r"(?i)token|secret|password|passwd|credential|private|_key\b|apikey|api_key")
_MAX_VALUE = 500


@dataclasses.dataclass(frozen=True)
class System:
    """One CI system: ``present`` (a variable it always sets, and the value that says it is this system; None: any
    value), and per canonical key the variables that give it, the first one set winning. A name ``vars.<name>`` is
    a play variable (AWX puts its job template and launching user in extra variables); a ``{NAME}`` template
    composes a value from several variables and is used only when all of them are set."""

    name: str
    label: str
    present: tuple[str, str | None]
    sources: t.Mapping[str, tuple[str, ...]]
    # prefixes taken off a value (Azure's refs/heads/main -> main)
    strip: t.Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


SYSTEMS: tuple[System, ...] = (
    System("github_actions", "GitHub Actions", ("GITHUB_ACTIONS", "true"), {
        "repository": ("GITHUB_REPOSITORY",),
        "branch": ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"),
        "commit": ("GITHUB_SHA",),
        "url": ("{GITHUB_SERVER_URL}/{GITHUB_REPOSITORY}/actions/runs/{GITHUB_RUN_ID}",),
        "run_number": ("GITHUB_RUN_NUMBER",),
        "triggered_by": ("GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR"),
        "job_id": ("GITHUB_RUN_ID",),
        "job_template": ("GITHUB_WORKFLOW",),
    }),
    System("gitlab_ci", "GitLab CI", ("GITLAB_CI", "true"), {
        "repository": ("CI_PROJECT_PATH",),
        "branch": ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH", "CI_COMMIT_REF_NAME"),
        "commit": ("CI_COMMIT_SHA",),
        "commit_time": ("CI_COMMIT_TIMESTAMP",),
        "url": ("CI_PIPELINE_URL", "CI_JOB_URL"),
        "run_number": ("CI_PIPELINE_IID",),
        "triggered_by": ("GITLAB_USER_LOGIN",),
        "job_id": ("CI_PIPELINE_ID",),
        "job_template": ("CI_JOB_NAME",),
    }),
    System("azure_pipelines", "Azure Pipelines", ("TF_BUILD", None), {
        "repository": ("BUILD_REPOSITORY_NAME",),
        "branch": ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCH"),
        "commit": ("BUILD_SOURCEVERSION",),
        "url": ("{SYSTEM_COLLECTIONURI}{SYSTEM_TEAMPROJECT}/_build/results?buildId={BUILD_BUILDID}",),
        "run_number": ("BUILD_BUILDNUMBER",),
        "triggered_by": ("BUILD_REQUESTEDFOR",),
        "job_id": ("BUILD_BUILDID",),
        "job_template": ("BUILD_DEFINITIONNAME",),
    }, strip={"branch": ("refs/heads/",)}),
    System("jenkins", "Jenkins", ("JENKINS_URL", None), {
        "repository": ("GIT_URL",),
        "branch": ("BRANCH_NAME", "GIT_BRANCH"),
        "commit": ("GIT_COMMIT",),
        "url": ("BUILD_URL",),
        "run_number": ("BUILD_NUMBER",),
        "triggered_by": ("BUILD_USER_ID", "CHANGE_AUTHOR"),
        "job_id": ("BUILD_TAG",),
        "job_template": ("JOB_NAME",),
    }, strip={"branch": ("origin/",)}),
    System("awx", "AWX / Automation Platform", ("AWX_HOST", None), {
        "branch": ("vars.awx_project_scm_branch",),
        "commit": ("PROJECT_REVISION", "vars.awx_project_revision"),
        "url": ("{AWX_HOST}/#/jobs/playbook/{JOB_ID}",),
        "triggered_by": ("vars.awx_user_name", "vars.tower_user_name"),
        "job_id": ("JOB_ID", "vars.awx_job_id", "vars.tower_job_id"),
        "job_template": ("vars.awx_job_template_name", "vars.tower_job_template_name"),
    }),
)
_TEMPLATE_NAME = re.compile(r"\{([A-Za-z0-9_]+)\}")
_SERVER_URLS = ("AWX_HOST", "GITHUB_SERVER_URL")


def variable_names(system: System) -> list[str]:
    """Every variable ``system`` reads (the documentation lists them; the secret test checks them)."""
    names = [system.present[0]]
    for candidates in system.sources.values():
        for candidate in candidates:
            names.extend(_TEMPLATE_NAME.findall(candidate) if "{" in candidate else [candidate])
    return list(dict.fromkeys(names))


def detect(environ: t.Mapping[str, str], variables: t.Mapping[str, t.Any] | None = None,
           warn: t.Callable[[str], None] | None = None) -> dict[str, str]:
    """The pipeline this process runs in: the canonical values that are set (``system`` is the table's name),
    then any ``ITSM_PIPELINE_<KEY>`` over them; empty outside a CI system when none of those is set either.

    A value that cannot be used (a commit time that is no date) is refused naming it, or, given ``warn`` (the
    recorder, which never breaks a run), left out with a warning."""
    variables = variables or {}
    values: dict[str, str] = {}
    for system in SYSTEMS:
        name, wanted = system.present
        if environ.get(name) and (wanted is None or str(environ[name]).lower() == wanted):
            values = _read(system, environ, variables)
            break
    for key in KEYS:
        given = environ.get(OVERRIDE_PREFIX + key.upper())
        if given:
            values[key] = given
    if warn is None or not values:
        return checked(values, "environment") if values else {}
    kept = {}
    for key, value in values.items():
        try:
            kept.update(checked({key: value}, "environment"))
        except ItsmValidationError as error:
            warn(f"the CI pipeline's {key} is left out: {error.message}")
    return kept


def _read(system: System, environ: t.Mapping[str, str], variables: t.Mapping[str, t.Any]) -> dict[str, str]:
    values = {"system": system.name}
    for key, candidates in system.sources.items():
        for candidate in candidates:
            value = _value(candidate, environ, variables)
            if value:
                for prefix in system.strip.get(key, ()):
                    value = value[len(prefix):] if value.startswith(prefix) else value
                values[key] = value
                break
    return values


def _value(candidate: str, environ: t.Mapping[str, str], variables: t.Mapping[str, t.Any]) -> str | None:
    if candidate.startswith("vars."):
        found = variables.get(candidate[5:])
        return str(found) if found not in (None, "") else None
    if "{" in candidate:
        names = _TEMPLATE_NAME.findall(candidate)
        if not all(environ.get(name) for name in names):
            return None
        text = candidate
        for name in names:
            value = str(environ[name])
            # A server's URL may end in a slash, which the template's own "/" would double.
            text = text.replace("{" + name + "}", value.rstrip("/") if name in _SERVER_URLS else value)
        return text
    return environ.get(candidate) or None


def checked(values: t.Mapping[str, t.Any], option: str = "pipeline") -> dict[str, str]:
    """Canonical values as text, refused naming ``option`` when a key is unknown or a value is not plain text or
    a number; a commit time in ISO 8601 UTC, URLs without credentials, every value at most 500 characters."""
    if not isinstance(values, t.Mapping):
        raise ItsmValidationError(option, values, "expected a dictionary with keys from: " + ", ".join(KEYS))
    unknown = sorted(str(key) for key in values if key not in KEYS)
    if unknown:
        raise ItsmValidationError(option, values, f"unknown key {', '.join(unknown)}; expected keys from: "
                                  + ", ".join(KEYS))
    result: dict[str, str] = {}
    for key in KEYS:
        value = values.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ItsmValidationError(f"{option}.{key}", value, "expected text")
        text = " ".join(str(value).split())  # one line: the block is line by line
        if key == "commit_time":
            text = normalise_datetime(text, f"{option}.{key}") or ""
        result[key] = _URL_CREDENTIALS.sub(r"\1", text)[:_MAX_VALUE]
    return result


# -- writing -------------------------------------------------------------------------------------

def block(values: t.Mapping[str, str]) -> str:
    """The readable block of a change's description: one ``Label: value`` line per value set."""
    if not values:
        return ""
    label = {system.name: system.label for system in SYSTEMS}
    lines = [BLOCK_START]
    for key in KEYS:
        if values.get(key):
            shown = label.get(values[key], values[key]) if key == "system" else values[key]
            lines.append(f"{LABELS[key]}: {shown}")
    return "\n".join(lines + [BLOCK_END])


def with_block(description: str | None, values: t.Mapping[str, str]) -> str:
    """``description`` with its pipeline block (an older one replaced, at the end), or as it was without values."""
    text = _without_block(description or "")
    if not values:
        return text
    return f"{text}\n\n{block(values)}" if text else block(values)


def _without_block(text: str) -> str:
    start = text.find(BLOCK_START)
    if start < 0:
        return text
    end = text.find(BLOCK_END, start)
    rest = text[end + len(BLOCK_END):] if end >= 0 else ""
    return (text[:start].rstrip() + ("\n\n" + rest.strip() if rest.strip() else "")).strip()


def extras(values: t.Mapping[str, str]) -> dict[str, str]:
    """The values as a change's ``fields`` (``pipeline_<key>``)."""
    return {EXTRA_PREFIX + key: value for key, value in values.items() if key in KEYS and value}


def gate_line(used: bool) -> str:
    return GATE_USED_LINE + ("yes" if used else "no")


# -- reading back --------------------------------------------------------------------------------

def read(record: t.Mapping[str, t.Any] | None) -> dict[str, t.Any] | None:
    """The pipeline values of a change record as any backend or info module returns it, None when it has none.

    Keys: those of ``KEYS`` that are set (text; ``commit_time`` ISO 8601 UTC), and ``gate_used`` (True or False)
    on a change the recorder ended, saying whether a change_gate task ran in that run. Looked for in ``fields``
    (``pipeline_<key>``: local, jsm), else the description's block (servicenow), else a block in the record's
    ``notes`` (the recorder's recap note; present when read with ``include: [notes]``); ``gate_used`` in
    ``close_notes``, else the newest note that says it.
    """
    if not record:
        return None
    stored = record.get("fields") or {}
    values: dict[str, t.Any] = {key: str(stored[EXTRA_PREFIX + key]) for key in KEYS
                                if stored.get(EXTRA_PREFIX + key) not in (None, "")}
    texts = [str(entry.get("text") or "") for entry in reversed(record.get("notes") or [])
             if isinstance(entry, t.Mapping)]
    if not values:
        for text in [record.get("description") or "", *texts]:
            values = parse_block(text)
            if values:
                break
    for text in [record.get("close_notes") or "", *texts]:
        used = _gate_used(text)
        if used is not None:
            values["gate_used"] = used
            break
    return values or None


def parse_block(text: str) -> dict[str, str]:
    """The values of the (last) pipeline block in ``text``; empty when it holds none."""
    start = (text or "").rfind(BLOCK_START)
    if start < 0:
        return {}
    end = text.find(BLOCK_END, start)
    body = text[start + len(BLOCK_START):end if end >= 0 else len(text)]
    by_label = {system.label: system.name for system in SYSTEMS}
    values: dict[str, str] = {}
    for line in body.splitlines():
        label, sep, value = line.partition(": ")
        key = _KEY_OF_LABEL.get(label.strip())
        if sep and key and value.strip():
            values[key] = by_label.get(value.strip(), value.strip()) if key == "system" else value.strip()
    return values


def _gate_used(text: str) -> bool | None:
    start = text.rfind(GATE_USED_LINE)
    if start < 0:
        return None
    word = text[start + len(GATE_USED_LINE):].split(None, 1)
    return word[0].rstrip(".").lower() == "yes" if word else None
