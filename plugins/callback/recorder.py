# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: recorder
type: notification
short_description: Log every run as a change and raise one deduplicated incident per failure
version_added: 0.1.0
author: opsgate.itsm contributors (@opsgate)
description:
  - "Change logging: when the playbook starts, attaches to the change named by O(change) or finds or opens the
    run's own change (a standard change, from the template O(change_template) when the backend has it; its
    correlation id comes from O(run_id), so a restarted job finds the same change) and moves it to
    C(implement). When the run ends it writes one work note with the per-host recap (ok, changed, failed,
    unreachable, skipped, rescued, ignored) and the failed tasks, and closes the change as C(successful),
    C(successful_issues) (failures were rescued or ignored) or C(unsuccessful) (a host failed or was
    unreachable), or moves it to C(review) (O(end_state))."
  - "Incidents: decided when the run ends, so a failure that a C(rescue) section handled, or that
    C(ignore_errors) excused, raises nothing. One incident per failure signature: the correlation key
    (O(incident_key), by default playbook, play, task name and the play's host pattern; never the message) is
    hashed into the incident's correlation id, so a failure that recurs run after run adds a recurrence note
    to the open incident instead of opening another. The description lists the hosts, task, module, the error
    (secrets redacted, long output truncated) and the change (C(caused_by))."
  - Impact and urgency come from O(incident_impact) and O(incident_urgency), overridden per play by the play
    variables C(itsm_incident_impact) / C(itsm_incident_urgency), and per host by host or group variables of
    the same names.
  - An incident of one host names that host's CI, the host variable C(itsm_ci_name) (as M(opsgate.itsm.change_gate)
    reads it) or else the inventory name; when the backend's CMDB has no such CI, the incident is raised without one.
  - With O(resolve_on_success) an open incident is resolved when its signature succeeds in a later run.
  - "It never breaks the run: a backend error is a warning. What could not be delivered, whatever the error (an
    outage, refused credentials, a connection setting such as O(ca_path) that cannot be used), is kept in the outbox
    (O(outbox), a local SQLite file) and sent, exactly once, when the recorder next starts or by the
    M(opsgate.itsm.outbox) module. A record the backend refuses for good (the change named by O(change) does not
    exist, a value is refused) is kept as C(failed) with the reason, warned of at every run, and sent again only
    by a flush with O(opsgate.itsm.outbox#module:retry_failed=true)."
  - "The recorder says what happened to its change: C(CHG0000012 created, now implement) when the run starts, and
    C(change CHG0000012 closed unsuccessful) (or C(closed successful), C(moved to review)) when it ends."
  - "It is cheap: task events are only counted in memory; the backend is called when the playbook starts and
    when it ends, never per task. The backends are imported when a recorded playbook starts, not when the callback
    loads, and a task that succeeds is not handed to the recorder at all unless O(resolve_on_success) is set (a
    skipped one is, to tell whether a M(opsgate.itsm.change_gate) task ran)."
  - "The change knows its pipeline (O(pipeline)): when the run is part of a CI pipeline, the run's change gets a block
    in its description (CI system, repository, branch, commit, commit time, pipeline URL, run number, the user who
    triggered it, job id and job or workflow name) and the same values in its C(fields) as C(pipeline_<key>) (the
    local store keeps them as columns, C(jsm) in the issue property C(opsgate.record); C(servicenow) has no
    columns for them, so the description's block is the record there). The recap note carries the block too, and
    says whether a M(opsgate.itsm.change_gate) task ran in the run (C(Change gate used in this run: yes)), as
    the close notes do. The notes list the variables read per CI system."
  - Runs in check mode (C(--check)) are not recorded.
  - Enable it with C(callbacks_enabled = opsgate.itsm.recorder) in C(ansible.cfg) or C(ANSIBLE_CALLBACKS_ENABLED).
    It runs beside any stdout callback, including the one ansible-runner and AWX use.
requirements:
  - enabled in C(callbacks_enabled)
options:
  change:
    description:
      - Attach to this existing change (by number) instead of opening the run's own change.
    type: str
    env:
      - name: ITSM_CHANGE
    ini:
      - section: opsgate_itsm_recorder
        key: change
  changes:
    description: Log the run as a change.
    type: bool
    default: true
    env:
      - name: ITSM_RECORDER_CHANGES
    ini:
      - section: opsgate_itsm_recorder
        key: changes
  change_template:
    description:
      - The standard change template the run's change is made from. When the backend has no such template, a
        plain standard change is opened. An empty value uses no template.
    type: str
    default: Ansible run
    env:
      - name: ITSM_RECORDER_CHANGE_TEMPLATE
    ini:
      - section: opsgate_itsm_recorder
        key: change_template
  assignment_group:
    description: The assignment group of the changes and incidents the recorder opens.
    type: str
    env:
      - name: ITSM_RECORDER_ASSIGNMENT_GROUP
    ini:
      - section: opsgate_itsm_recorder
        key: assignment_group
  end_state:
    description: Close the change when the run ends, or move it to C(review) for a person to close.
    type: str
    choices: [closed, review]
    default: closed
    env:
      - name: ITSM_RECORDER_END_STATE
    ini:
      - section: opsgate_itsm_recorder
        key: end_state
  run_id:
    description:
      - A stable id of the job, so a restarted job finds the change of its first attempt. Taken from the first
        of C(ITSM_RECORDER_RUN_ID), C(JOB_ID) (AWX), C(CI_PIPELINE_ID) (GitLab) and C(GITHUB_RUN_ID) that is set;
        without any, each run gets a new id.
    type: str
    env:
      - name: GITHUB_RUN_ID
      - name: CI_PIPELINE_ID
      - name: JOB_ID
      - name: ITSM_RECORDER_RUN_ID
    ini:
      - section: opsgate_itsm_recorder
        key: run_id
  incidents:
    description: Raise an incident for every failure signature no rescue handled.
    type: bool
    default: true
    env:
      - name: ITSM_RECORDER_INCIDENTS
    ini:
      - section: opsgate_itsm_recorder
        key: incidents
  incident_key:
    description:
      - The correlation key of a failure, from the fields C({playbook}), C({play}), C({task}), C({hosts}) (the
        play's host pattern), C({host}), C({action}) (the module) and C({role}). Failures with the same key
        update one incident.
    type: str
    default: "{playbook}/{play}/{task}/{hosts}"
    env:
      - name: ITSM_RECORDER_INCIDENT_KEY
    ini:
      - section: opsgate_itsm_recorder
        key: incident_key
  incident_impact:
    description: Impact of the incidents (overridden by the variable C(itsm_incident_impact)).
    type: str
    choices: [high, medium, low]
    default: medium
    env:
      - name: ITSM_RECORDER_INCIDENT_IMPACT
    ini:
      - section: opsgate_itsm_recorder
        key: incident_impact
  incident_urgency:
    description: Urgency of the incidents (overridden by the variable C(itsm_incident_urgency)).
    type: str
    choices: [high, medium, low]
    default: medium
    env:
      - name: ITSM_RECORDER_INCIDENT_URGENCY
    ini:
      - section: opsgate_itsm_recorder
        key: incident_urgency
  pipeline:
    description:
      - Write the CI pipeline the run is part of into its change (see the description for the variables read).
    type: bool
    default: true
    version_added: 0.2.0
    env:
      - name: ITSM_RECORDER_PIPELINE
    ini:
      - section: opsgate_itsm_recorder
        key: pipeline
  problem_after:
    description:
      - Raise a problem when one failure signature (an incident's correlation id) has failed this many times within
        O(problem_window) days, counting the incidents of the signature and their recurrence notes; C(0) never does.
      - "The problem (one per signature: its correlation id is the incident's with C(ansible-problem-) for
        C(ansible-failure-)) has the incident's description as its statement (the failing task, module, hosts and
        messages, secrets redacted), is linked from the signature's open incident (its C(problem)), and gets one work
        note per failed run, C(Change CHG0000012 failed: ...). While it is open, every later failure of the
        signature updates it."
    type: int
    default: 0
    version_added: 0.2.0
    env:
      - name: ITSM_RECORDER_PROBLEM_AFTER
    ini:
      - section: opsgate_itsm_recorder
        key: problem_after
  problem_window:
    description: The days back from the failure in which O(problem_after) counts the signature's failures.
    type: float
    default: 30
    version_added: 0.2.0
    env:
      - name: ITSM_RECORDER_PROBLEM_WINDOW
    ini:
      - section: opsgate_itsm_recorder
        key: problem_window
  resolve_on_success:
    description: Resolve the open incident of a signature when that task succeeds in a later run.
    type: bool
    default: false
    env:
      - name: ITSM_RECORDER_RESOLVE_ON_SUCCESS
    ini:
      - section: opsgate_itsm_recorder
        key: resolve_on_success
  redact_patterns:
    description:
      - Regular expressions whose matches are replaced by C(********) in incident descriptions and notes, on top
        of the connection's secrets, credential-looking C(key=value) pairs, bearer tokens and URL passwords.
    type: list
    elements: str
    default: []
    env:
      - name: ITSM_RECORDER_REDACT_PATTERNS
    ini:
      - section: opsgate_itsm_recorder
        key: redact_patterns
  max_message_length:
    description: Error messages longer than this many characters are truncated (head and tail kept).
    type: int
    default: 2000
    env:
      - name: ITSM_RECORDER_MAX_MESSAGE_LENGTH
    ini:
      - section: opsgate_itsm_recorder
        key: max_message_length
  outbox:
    description:
      - The SQLite file that keeps what could not be delivered. Defaults to C(opsgate_itsm/outbox.sqlite) under
        the Ansible home. The M(opsgate.itsm.outbox) module reads the same C(ITSM_OUTBOX).
      - "Or a PostgreSQL URL, as O(local_db) takes
        (C(postgresql://itsm@db.example.com/itsm?sslmode=verify-full), needs the C(psycopg) Python package): the
        items are kept in the table C(outbox_items) of that database (the URL's schema), which outlives the
        execution-environment container of an AWX / Automation Platform job without O(outbox_durable). Its
        password comes from O(password) with the C(local) backend (as for O(local_db)), else from the URL, else
        from libpq (C(PGPASSWORD), a C(.pgpass) file)."
      - A file path has C(~) and C($VARS) expanded; a relative path is relative to the current directory.
    type: str
    env:
      - name: ITSM_OUTBOX
    ini:
      - section: opsgate_itsm_recorder
        key: outbox
  outbox_durable:
    description:
      - Declares that O(outbox) is on storage that outlives the job, such as a volume mounted into the execution
        environment of AWX / Automation Platform. An O(outbox) on PostgreSQL is durable without it.
      - "In an AWX / Automation Platform job (C(AWX_HOST), or C(JOB_ID) with other C(AWX_*) variables) whose outbox
        is not declared durable, and in any ansible-runner run whose outbox lies in the runner's private data dir
        (below C(AWX_ISOLATED_DATA_DIR)'s parent), the recorder warns once per run that records it could not
        deliver would be lost with the job. A path inside the private data dir is never durable."
    type: bool
    default: false
    version_added: 0.2.0
    env:
      - name: ITSM_OUTBOX_DURABLE
    ini:
      - section: opsgate_itsm_recorder
        key: outbox_durable
  flush_on_start:
    description: Send what the outbox holds for this backend when the playbook starts.
    type: bool
    default: true
    env:
      - name: ITSM_RECORDER_FLUSH_ON_START
    ini:
      - section: opsgate_itsm_recorder
        key: flush_on_start
  recorder_timeout:
    description:
      - Seconds the recorder waits for one request to the backend, in place of O(timeout), so that a backend
        that hangs costs the run seconds, not minutes, at its start and at its end.
    type: float
    default: 10.0
    env:
      - name: ITSM_RECORDER_TIMEOUT
    ini:
      - section: opsgate_itsm_recorder
        key: timeout
  recorder_retries:
    description:
      - How many times the recorder retries a transient failure, in place of O(retries). What still fails
        goes to the outbox.
    type: int
    default: 1
    env:
      - name: ITSM_RECORDER_RETRIES
    ini:
      - section: opsgate_itsm_recorder
        key: retries
extends_documentation_fragment:
  - opsgate.itsm.connection
  - opsgate.itsm.connection.plugins
  - opsgate.itsm.pipeline
notes:
  - A configuration error (an unknown template field in O(incident_key), a bad regular expression, a
    O(recorder_timeout) that is not above 0 or a negative O(recorder_retries), a O(problem_after) of 1 or below 0, a
    O(problem_window) not above 0, an unknown backend or no O(url)) disables the recorder with a warning; the run
    goes on.
  - "The recorder publishes in the controller's environment the two parts of its default O(incident_key) a task
    cannot see: C(OPSGATE_ITSM_PLAYBOOK), the playbook's file name, when the playbook starts, and
    C(OPSGATE_ITSM_PLAY_HOSTS), the play's host pattern as written, when each play starts (also in check mode).
    It also publishes C(OPSGATE_ITSM_CHANGE), the number of the change it logs the run under, once it has one.
    The C(opsgate.itsm.incident_on_failure) role's default key reads them, so a failure the role records and the
    same failure the recorder raises share one correlation id, hence one incident."
seealso:
  - module: opsgate.itsm.outbox
"""

import atexit
import dataclasses
import os
import signal
import typing as t
import uuid

from ansible import context
from ansible.playbook.block import Block
from ansible.plugins.callback import CallbackBase

from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline
from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as recorder
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings
from ansible_collections.opsgate.itsm.plugins.plugin_utils import _job_environment as job_environment
from ansible_collections.opsgate.itsm.plugins.plugin_utils._home import publish_ansible_home

if t.TYPE_CHECKING:
    from ansible_collections.opsgate.itsm.plugins.plugin_utils._recorder_delivery import Delivery

LEVEL_VARS = ("itsm_incident_impact", "itsm_incident_urgency")
# The host's CI name when it differs from the inventory name (the variable the change gate reads too).
CI_NAME_VAR = "itsm_ci_name"
# This role raises the incident of the failure it handles, then fails again on purpose: that second failure is
# already on record. A failure of one of its opsgate.itsm tasks (the incident was not written) is still reported.
REPORTING_ROLE = "opsgate.itsm.incident_on_failure"
COLLECTION_PREFIX = "opsgate.itsm."
# The two parts of a failure's signature a task cannot see, published in the controller's environment for the
# incident_on_failure role's key (workers fork after these events and inherit them).
PLAYBOOK_ENV = "OPSGATE_ITSM_PLAYBOOK"
PLAY_HOSTS_ENV = "OPSGATE_ITSM_PLAY_HOSTS"
# The change the run is logged under, for the role's caused_by: published once the recorder has it.
CHANGE_ENV = "OPSGATE_ITSM_CHANGE"
# The change gate's action as a task names it (its FQCN, or the short name under a play's ``collections:``).
GATE_ACTIONS = ("opsgate.itsm.change_gate", "change_gate")


def _budget(option: str, get_option: t.Callable[[str], t.Any]) -> t.Any:
    """recorder_timeout (seconds above 0) or recorder_retries (0 or more), refused here naming the option: the
    transport would refuse a timeout of 0 only at the first request, naming its own ``timeout``."""
    value = get_option(option)
    if option == "recorder_timeout":
        if not isinstance(value, (int, float)) or value <= 0:
            raise ItsmValidationError(option, value, "expected a number of seconds greater than 0")
        return float(value)
    if not isinstance(value, int) or value < 0:
        raise ItsmValidationError(option, value, "expected 0 or more")
    return value


def rescue_runs(task: t.Any) -> bool:
    """Whether a failure of ``task`` is rescued: some block around it holds it in its ``block:`` part and has a
    ``rescue:`` part (the rule ansible's strategy applies; a task in a ``rescue:`` or ``always:`` part is rescued
    only by a block further out)."""
    child, parent = task, getattr(task, "_parent", None)
    while parent is not None:
        if isinstance(parent, Block) and parent.rescue and any(node._uuid == child._uuid for node in parent.block):
            return True
        child, parent = parent, getattr(parent, "_parent", None)
    return False


def host_pattern(play: t.Any) -> str:
    """The play's ``hosts:`` as written (a list joined with commas), not the hosts it resolved to."""
    hosts = getattr(play, "hosts", "") or ""
    return ",".join(hosts) if isinstance(hosts, (list, tuple)) else str(hosts)


class CallbackModule(CallbackBase):
    """Collects task outcomes in memory; talks to the backend only at playbook start and end."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "opsgate.itsm.recorder"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.disabled = False
        self.run: recorder.Run | None = None
        self.settings: recorder.Settings | None = None
        self.connection: ConnectionSettings | None = None
        self.delivery: Delivery | None = None
        self.events: list[recorder.Failure] = []
        self.successes: list[recorder.Failure] = []
        self.play: t.Any = None
        self.play_hosts = ""
        self.play_levels: dict[str, str] = {}
        self.change_number: str | None = None
        # change_gate tasks (by uuid) -> the hosts each started on, and those it was skipped on: the gate ran when
        # one of them was not skipped everywhere.
        self.gate_started: dict[str, set[str]] = {}
        self.gate_skipped: dict[str, set[str]] = {}
        # The end of the run is recorded once: by v2_playbook_on_stats, or by the exit hooks when it never fires.
        self.ended = False
        self.main_pid = os.getpid()
        self.previous_sigterm: t.Any = None
        # The warning that the outbox goes with the job is given once per run, not per playbook of the run.
        self.job_checked = False

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        publish_ansible_home()
        if not self.get_option("resolve_on_success"):
            self._skip_successes()
        try:
            # The recorder's own, short budget: a backend that hangs must not hold the run for minutes.
            self.connection = dataclasses.replace(
                ConnectionSettings.from_plugin(self.get_option), timeout=_budget("recorder_timeout", self.get_option),
                retries=_budget("recorder_retries", self.get_option))
            self.settings = recorder.Settings(
                incident_key=self.get_option("incident_key"), impact=self.get_option("incident_impact"),
                urgency=self.get_option("incident_urgency"), assignment_group=self.get_option("assignment_group"),
                max_message=int(self.get_option("max_message_length")),
                redact=tuple(self.get_option("redact_patterns") or ()), secrets=tuple(self.connection.secrets()),
                problem_after=self.get_option("problem_after"), problem_window=self.get_option("problem_window"))
        except ItsmError as error:
            self._disable(error.message)

    def _skip_successes(self) -> None:
        """ansible-core hands every callback that implements v2_runner_on_ok its own copy of each task result;
        a success only matters to resolve_on_success, so without it the recorder is left out of that copying."""
        implemented = getattr(self, "_implemented_callback_methods", None)
        if implemented is not None:  # ansible-core 2.19 and later; earlier ones call every method
            self._implemented_callback_methods = frozenset(implemented) - {"v2_runner_on_ok"}

    def _disable(self, why: str) -> None:
        self.disabled = True
        self._display.warning(f"opsgate.itsm.recorder is disabled for this run: {why}")

    # -- events (memory only) --------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        if self.disabled:
            return
        name = os.environ[PLAYBOOK_ENV] = os.path.basename(getattr(playbook, "_file_name", "") or "playbook")
        os.environ.pop(CHANGE_ENV, None)  # an earlier playbook's change is not this one's
        if context.CLIARGS.get("check"):
            # Still called for plays (their host pattern is published), but no run: every other event is a no-op.
            self._display.vv("opsgate.itsm.recorder: check mode, nothing is recorded")
            return
        if not self._connect():
            return
        self._warn_if_lost_with_job()
        tags = tuple(tag for tag in context.CLIARGS.get("tags") or () if tag != "all")
        self.gate_started, self.gate_skipped = {}, {}
        self.run = recorder.Run(
            run_id=self.get_option("run_id") or uuid.uuid4().hex, attempt=uuid.uuid4().hex[:16], playbook=name,
            limit=context.CLIARGS.get("subset"), tags=tags, change_number=self.get_option("change"),
            template=self.get_option("change_template") or None,
            assignment_group=self.get_option("assignment_group"), end_state=self.get_option("end_state"),
            pipeline=self._pipeline(playbook))
        self.change_number = self.delivery.start(
            recorder.change_item(self.run) if self.get_option("changes") else None, self.get_option("flush_on_start"))
        if self.change_number or self.run.change_number:
            os.environ[CHANGE_ENV] = self.change_number or self.run.change_number
        self._hook_exit()

    def v2_playbook_on_play_start(self, play):
        self.play = play
        self.play_hosts = os.environ[PLAY_HOSTS_ENV] = host_pattern(play)
        given = getattr(play, "vars", None) or {}
        self.play_levels = {name: given[name] for name in LEVEL_VARS if isinstance(given.get(name), str)}

    def v2_runner_on_start(self, host, task):
        if self.run is not None and str(getattr(task, "action", "") or "") in GATE_ACTIONS:
            self.gate_started.setdefault(task._uuid, set()).add(host.get_name())

    def v2_runner_on_skipped(self, result):
        task = getattr(result, "task", None) or result._task
        if self.run is not None and task._uuid in self.gate_started:
            host = getattr(result, "host", None) or result._host
            self.gate_skipped.setdefault(task._uuid, set()).add(host.get_name())

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if self.run is not None:
            self.events.append(self._failure(result, ignored=bool(ignore_errors)))

    def v2_runner_on_unreachable(self, result):
        if self.run is not None:
            self.events.append(self._failure(result, unreachable=True))

    def v2_runner_on_ok(self, result):
        if self.run is not None and self.get_option("resolve_on_success"):
            self.successes.append(self._failure(result, message=False))

    def v2_playbook_on_stats(self, stats):
        if self.run is None or self.disabled or self.ended:
            return
        self.ended = True
        self.run.gate_used = self._gate_used()
        recap = {host: stats.summarize(host) for host in sorted(stats.processed)}
        failures = recorder.unhandled(self.events, recap)
        code = recorder.close_code(recap)
        items = []
        if self.get_option("changes"):
            note = recorder.recap_note(recap, failures, code, self.settings, self.run.marker, self.run.label,
                                       self.run.context())
            items.append(recorder.change_item(self.run, note, code))
        change = {}
        if self.get_option("changes") or self.run.change_number:
            change = dict(self.run.change_reference(), number=self.change_number or self.run.change_number)
        if self.get_option("incidents"):
            items += recorder.incident_items(failures, self.settings, self.run.marker, self.run.label, change)
        if self.get_option("resolve_on_success"):
            failed_ids = {recorder.signature(event, self.settings.incident_key)[1] for event in self.events}
            items += recorder.resolve_items(self.successes, failed_ids, self.settings, self.run.marker,
                                            self.run.label)
        self.delivery.send(items)

    # -- a run that never reaches its end ---------------------------------------------------------

    def _hook_exit(self) -> None:
        """Ctrl-C ends ansible-playbook by a normal interpreter exit (status 99), so atexit runs; SIGTERM (an AWX cancel)
        kills it from ansible's own handler, so the end is recorded before that handler runs."""
        atexit.register(self._end_interrupted, "the run ended before its recap, e.g. Ctrl-C")
        try:
            self.previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread (an embedding program): atexit still covers a clean exit
            self.previous_sigterm = None

    def _on_sigterm(self, signum, frame):
        if os.getpid() == self.main_pid:
            self._end_interrupted("terminated by SIGTERM, e.g. a cancelled job")
        previous = self.previous_sigterm
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _end_interrupted(self, reason: str) -> None:
        # Forked workers inherit the hooks; only the controller's main process records the end.
        if self.ended or self.disabled or self.run is None or os.getpid() != self.main_pid:
            return
        self.ended = True
        if not self.get_option("changes"):
            return
        self.run.gate_used = self._gate_used()
        note = recorder.interrupted_note(reason, self.events, self.settings, self.run.marker, self.run.label,
                                         self.run.context())
        self.delivery.send([recorder.change_item(self.run, note, "unsuccessful", outcome="interrupted")])

    # -- helpers ---------------------------------------------------------------------------------

    def _gate_used(self) -> bool:
        """Whether a change_gate task ran on some host (started there and not skipped by its ``when``)."""
        return any(hosts - self.gate_skipped.get(uuid, set()) for uuid, hosts in self.gate_started.items())

    def _pipeline(self, playbook) -> dict[str, str]:
        """The CI pipeline of the run, from the controller's environment and (AWX's job template and user) the
        extra variables; a value that cannot be used is left out with a warning."""
        if not self.get_option("pipeline"):
            return {}
        manager = getattr(playbook, "get_variable_manager", None)
        extra = getattr(manager(), "extra_vars", None) if callable(manager) else None
        return pipeline.detect(os.environ, extra if isinstance(extra, t.Mapping) else {},
                               warn=lambda text: self._display.warning(f"opsgate.itsm.recorder: {text}"))

    def _warn_if_lost_with_job(self) -> None:
        """Once per run, in a job whose container or private data dir goes with it: an outbox there would keep
        nothing for the next run (issue 17)."""
        if self.job_checked:
            return
        self.job_checked = True
        job = job_environment.detect()
        path = self.delivery.outbox.path
        why = job_environment.lost_with_job(path, job, bool(self.get_option("outbox_durable")))
        if why is None:
            return
        self._display.warning(
            f"opsgate.itsm.recorder: this {job.label} keeps the recorder's outbox at {path}, which does not outlive "
            f"the job: {why}. Records the {self.connection.backend} backend cannot take at the end of the run would "
            "be lost with it. Put the outbox on a volume mounted into the execution environment (AWX: Settings > "
            "Jobs > Paths to expose to isolated jobs), point ITSM_OUTBOX at a file there and set "
            "ITSM_OUTBOX_DURABLE=true, or point ITSM_OUTBOX at a PostgreSQL database (postgresql://...) "
            "(docs/awx.md in the collection).")

    def _connect(self) -> bool:
        """Import and set up the delivery to the backend (the first time it is needed); False when the backend
        cannot be built, and the recorder is then disabled."""
        if self.delivery is not None:
            return True
        # Imported here, not with the callback: the backends and requests cost nothing to a run never recorded.
        from ansible_collections.opsgate.itsm.plugins.plugin_utils._recorder_delivery import Delivery

        try:
            self.delivery = Delivery(self.connection, self.get_option("outbox"), self.settings, self._display)
        except ItsmError as error:
            self._disable(error.message)
            return False
        return True

    def _failure(self, result, unreachable: bool = False, ignored: bool = False,
                 message: bool = True) -> recorder.Failure:
        task, host = getattr(result, "task", None) or result._task, getattr(result, "host", None) or result._host
        play = self.play
        role = getattr(task, "_role", None)
        failure = recorder.Failure(
            playbook=self.run.playbook, play=play.get_name() if play is not None else "", task=task.get_name(),
            hosts=self.play_hosts, host=host.get_name(),
            action=str(task.action or ""), role=role.get_name() if role is not None else "",
            unreachable=unreachable, ignored=ignored, rescued=not unreachable and rescue_runs(task))
        failure.already_recorded = failure.role == REPORTING_ROLE and not failure.action.startswith(COLLECTION_PREFIX)
        if message:
            data = getattr(result, "result", None)
            failure.message = recorder.result_message(data if data is not None else result._result)
            levels = dict(self.play_levels, **self._host_levels(host))
            failure.impact, failure.urgency = levels.get(LEVEL_VARS[0]), levels.get(LEVEL_VARS[1])
            failure.ci_name = levels.get(CI_NAME_VAR)
        return failure

    def _host_levels(self, host) -> dict[str, str]:
        """Host and group variables (read only when a task failed, never per task)."""
        manager = getattr(self.play, "_variable_manager", None)
        try:
            found = manager.get_vars(play=self.play, host=host) if manager is not None else host.get_vars()
        except (AttributeError, TypeError):
            found = host.get_vars()
        return {name: str(found[name]) for name in (*LEVEL_VARS, CI_NAME_VAR) if name in found}
