"""The recorder's pure decisions: close code, unhandled failures, signatures, redaction, truncation."""

import json

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _recorder as rec
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError


def failure(host="web1", task="Deploy", message="boom", **extra):
    return rec.Failure(playbook="site.yml", play="Web", hosts="web", task=task, host=host, action="command",
                       message=message, **extra)


def counts(**given):
    return dict({key: 0 for key in rec.RECAP_KEYS}, **given)


@pytest.mark.parametrize("recap, code", [
    ({"a": counts(ok=3)}, "successful"),
    ({"a": counts(ok=3, rescued=1)}, "successful_issues"),
    ({"a": counts(ok=3, ignored=1)}, "successful_issues"),
    ({"a": counts(ok=3, rescued=1), "b": counts(failures=1)}, "unsuccessful"),
    ({"a": counts(ok=1), "b": counts(unreachable=1)}, "unsuccessful"),
])
def test_close_code_follows_the_recap(recap, code):
    assert rec.close_code(recap) == code


def test_unhandled_keeps_only_the_failures_no_rescue_took():
    rescued, final = failure(task="Try"), failure(task="Rescue step")
    ignored = failure(task="Optional", ignored=True)
    other_host = failure(host="web2", task="Try")
    down = failure(host="db1", task="Ping", unreachable=True)
    recap = {"web1": counts(failures=1, rescued=1, ignored=1), "web2": counts(rescued=1), "db1": counts(unreachable=1)}
    assert rec.unhandled([rescued, ignored, other_host, final, down], recap) == [final, down]


def test_unhandled_trusts_the_rescue_marks_when_the_recap_confirms_them():
    # A real failure, then a rescued failure in the always section after it: the rescued one came last.
    real, cleanup = failure(task="Real failure"), failure(task="Cleanup step", rescued=True)
    assert rec.unhandled([real, cleanup], {"web1": counts(failures=1, rescued=1)}) == [real]


def test_unhandled_falls_back_to_the_order_of_events_when_the_marks_disagree_with_the_recap():
    # Marked rescued, but the recap says no rescue ran (a rescue section skipped by tags): the recap wins.
    first, last = failure(task="Try", rescued=True), failure(task="Rescue step", rescued=True)
    assert rec.unhandled([first, last], {"web1": counts(failures=1, rescued=1)}) == [last]


def test_failures_already_recorded_by_the_role_raise_no_incident_but_stay_in_the_note():
    reraised = failure(task="opsgate.itsm.incident_on_failure : Fail again", already_recorded=True)
    real = failure(host="web2", task="Restart")
    items = rec.incident_items([reraised, real], rec.Settings(), "m", "run 1", {})
    assert [item["fields"]["short_description"] for item in items] == ["Ansible task 'Restart' failed on web2 (Web)"]
    recap = {"web1": counts(failures=1), "web2": counts(failures=1)}
    assert "Fail again" in rec.recap_note(recap, [reraised, real], "unsuccessful", rec.Settings(), "m", "run 1")


def test_interrupted_note_and_change_item_say_the_run_was_stopped():
    run = rec.Run(run_id="7", attempt="a1", playbook="site.yml", end_state="review")
    note = rec.interrupted_note("terminated by SIGTERM", [failure(message="password=hunter2")], rec.Settings(),
                                run.marker, run.label)
    item = rec.change_item(run, note, "unsuccessful", outcome="interrupted")
    assert note.startswith("Ansible run interrupted (terminated by SIGTERM)") and "hunter2" not in note
    assert item["end_state"] == "review" and item["close_code"] == "unsuccessful"
    assert item["close_notes"].startswith("Ansible run site.yml interrupted: unsuccessful")


def test_undelivered_text_is_json_without_the_connection_secrets():
    text = rec.undelivered_text([{"type": "change", "note": "token s3cr3t-value"}], rec.Settings(secrets=("s3cr3t-value",)))
    assert '"type": "change"' in text and "s3cr3t-value" not in text


def test_signature_ignores_the_message_and_host_but_not_the_task():
    first = rec.signature(failure(message="timeout at 10:01", host="web1"))
    again = rec.signature(failure(message="timeout at 10:07", host="web2"))
    other = rec.signature(failure(task="Migrate"))
    assert first == again
    assert first[0] == "site.yml/Web/Deploy/web"
    assert first[1].startswith(rec.INCIDENT_CORRELATION_PREFIX) and len(first[1]) <= 40
    assert other[1] != first[1]


def test_signature_template_can_include_the_host():
    template = "{play}/{task}/{host}"
    assert rec.signature(failure(host="a"), template) != rec.signature(failure(host="b"), template)


@pytest.mark.parametrize("template", ["{play}/{message}", "no fields", "{play"])
def test_a_bad_key_template_is_refused_naming_the_option(template):
    with pytest.raises(ItsmValidationError, match="incident_key"):
        rec.Settings(incident_key=template)


def test_a_bad_redact_pattern_is_refused():
    with pytest.raises(ItsmValidationError, match="redact_patterns"):
        rec.Settings(redact=("(unclosed",))


def test_redact_hides_credentials_in_every_usual_form():
    text = ("login password=hunter2 token: abc.def api_key=\"k3y\" Authorization: Bearer abcdefghijkl123 "
            "url https://bob:pa55@example.com/x known-secret-value card 4111-1111")
    out = rec.redact(text, secrets=["known-secret-value"], patterns=[r"\d{4}-\d{4}"])
    for secret in ("hunter2", "abc.def", "k3y", "abcdefghijkl123", "pa55", "known-secret-value", "4111-1111"):
        assert secret not in out
    assert "password=********" in out and "https://bob:********@example.com" in out


def test_truncate_keeps_head_and_tail_within_the_limit():
    text = "HEAD" + "x" * 5000 + "TAIL"
    out = rec.truncate(text, 300)
    assert len(out) <= 300
    assert out.startswith("HEAD") and out.endswith("TAIL") and "characters truncated" in out
    assert rec.truncate("short", 300) == "short"


def test_incident_items_group_hosts_of_one_signature_and_take_the_highest_level():
    settings = rec.Settings(max_message=500)
    failures = [failure(host="web1", urgency="low"), failure(host="web2", urgency="high", message="x" * 5000),
                failure(task="Migrate")]
    items = rec.incident_items(failures, settings, "M1", "run 7", {"number": "CHG0000001"})
    assert len(items) == 2
    deploy = items[0]
    assert deploy["fields"]["urgency"] == "high" and deploy["fields"]["impact"] == "medium"
    assert "configuration_item" not in deploy["fields"]
    description = deploy["fields"]["description"]
    assert "Hosts: web1, web2" in description and "Change: CHG0000001" in description and "[M1]" in description
    assert len(description) < 2500
    assert items[1]["fields"]["configuration_item"] == "web1"


def test_result_message_prefers_msg_and_respects_no_log():
    assert rec.result_message({"msg": "failed", "stderr": "details"}) == "failed\ndetails"
    assert rec.result_message({"_ansible_no_log": True, "msg": "password=x"}) == "the output was hidden by no_log"
    assert rec.result_message({"results": [{"failed": True, "msg": "item 2"}, {"msg": "fine"}]}) == "item 2"


def test_recap_note_lists_every_host_and_failed_task():
    recap = {"web1": counts(ok=2, changed=1), "web2": counts(failures=1)}
    note = rec.recap_note(recap, [failure(host="web2")], "unsuccessful", rec.Settings(), "M1", "run 7")
    assert "web1: 2 1 0 0 0 0 0" in note and "web2: 0 0 1 0 0 0 0" in note
    assert "- web2: Deploy (Web) failed: boom" in note and note.endswith("[M1]")


def test_change_item_uses_the_number_or_a_correlation_id_from_the_run_id():
    run = rec.Run(run_id="job-42", attempt="a1", playbook="site.yml", limit="web", tags=("deploy",))
    again = rec.Run(run_id="job-42", attempt="a2", playbook="site.yml")
    item = rec.change_item(run, note="n", code="successful")
    assert item["correlation_id"] == again.correlation_id and item["number"] is None
    assert item["create"]["short_description"] == "Ansible run: site.yml, limit web, tags deploy"
    assert item["end_state"] == "closed" and item["close_code"] == "successful"
    attached = rec.Run(run_id="x", attempt="a", playbook="p", change_number="CHG0000009")
    assert rec.change_item(attached)["number"] == "CHG0000009"


# Issue 14 item 10: each secret-bearing form a failing task's message commonly carries, and the value it hides.
@pytest.mark.parametrize("text, secret", [
    ("mysql --password s3cretA -e 'select 1'", "s3cretA"),
    ("app --password=s3cretB --verbose", "s3cretB"),
    ("tool --db-password 's3cret C' --x", "s3cret C"),
    ("deploy --token tok3nD and more", "tok3nD"),
    ("cli --api-key k3yE --region eu", "k3yE"),
    ("mysql -u root -p s3cretF db", "s3cretF"),
    ("mysqldump -h db -u root -ps3cretG db", "s3cretG"),
    ("/usr/bin/mysqladmin -u root -p s3cretH status", "s3cretH"),
    ("sshpass -p s3cretI ssh host", "s3cretI"),
    ("psql -h db -p s3cretJ", "s3cretJ"),
    ("login password=s3cretK user=bob", "s3cretK"),
    ('config password="s3cret L" next', "s3cret L"),
    ("PASSWORD: s3cretM", "s3cretM"),
    ("export PGPASSWORD=s3cretN; psql", "s3cretN"),
    ("curl url?token=s3cretO&x=1", "s3cretO"),
    ("Authorization: Bearer abc", "abc"),
    ("header Authorization: Basic dXNlcjpwYXNzd29yZA== sent", "dXNlcjpwYXNzd29yZA=="),
    ("'Authorization': 'Token s3cretP'", "s3cretP"),
    ("bearer eyJhbGciOi.eyJzdWIi.sig", "eyJhbGciOi.eyJzdWIi.sig"),
    ("fetch https://bob:s3cretQ@example.com/x", "s3cretQ"),
    ("fetch postgresql://bob:s3cret%2FR@db:5432/itsm", "s3cret%2FR"),
    ("key -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY----- done",
     "b3BlbnNzaC1rZXktdjE"),
    ("cut -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA", "MIIEowIBAAKCAQEA"),
])
def test_redact_hides_each_secret_bearing_form(text, secret):
    out = rec.redact(text)
    assert secret not in out, out
    assert rec.REDACTED in out


@pytest.mark.parametrize("text", [
    "mysql -u root -h db.example.com inventory",
    "ls -p /tmp",
    "password policy applied",
])
def test_redact_leaves_ordinary_words_alone(text):
    assert rec.redact(text) == text


def test_a_failing_tasks_message_reaches_the_incident_without_its_password():
    settings = rec.Settings()
    failures = [failure(message="command failed: mysql -u root --password hunter2 -e 'drop'")]
    item = rec.incident_items(failures, settings, "M1", "run 7", {})[0]
    assert "hunter2" not in json.dumps(item)
