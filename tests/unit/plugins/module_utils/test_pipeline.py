"""The CI pipeline of a change (issue 19): one table per CI system in, the block and the fields out, read back."""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _pipeline as pipeline
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError

SHA = "3f786850e387550fdab836ed7e6dc881de23001b"

# Each system's standard variables as its own documentation names them, with the values the change must show.
# Every case also sets the tokens these systems put in a job's environment: none may reach the values.
CASES = {
    "github_actions": (
        dict(GITHUB_ACTIONS="true", GITHUB_REPOSITORY="acme/shop", GITHUB_REF_NAME="main", GITHUB_SHA=SHA,
             GITHUB_SERVER_URL="https://github.com", GITHUB_RUN_ID="7012345678", GITHUB_RUN_NUMBER="42",
             GITHUB_ACTOR="alice", GITHUB_TRIGGERING_ACTOR="bob", GITHUB_WORKFLOW="deploy",
             GITHUB_TOKEN="ghs_secretvalue123456", ACTIONS_RUNTIME_TOKEN="runtime-secret-value"),
        {}, dict(system="github_actions", repository="acme/shop", branch="main", commit=SHA,
                 url="https://github.com/acme/shop/actions/runs/7012345678", run_number="42", triggered_by="bob",
                 job_id="7012345678", job_template="deploy")),
    "gitlab_ci": (
        dict(GITLAB_CI="true", CI_PROJECT_PATH="acme/shop", CI_COMMIT_BRANCH="release", CI_COMMIT_REF_NAME="release",
             CI_COMMIT_SHA=SHA, CI_COMMIT_TIMESTAMP="2026-12-01T10:15:30+01:00",
             CI_PIPELINE_URL="https://gitlab.example.com/acme/shop/-/pipelines/991", CI_PIPELINE_IID="17",
             GITLAB_USER_LOGIN="carol", CI_PIPELINE_ID="991", CI_JOB_NAME="deploy-prod",
             CI_JOB_TOKEN="glcbt-secretvalue", CI_REGISTRY_PASSWORD="registry-secret-value"),
        {}, dict(system="gitlab_ci", repository="acme/shop", branch="release", commit=SHA,
                 commit_time="2026-12-01T09:15:30Z", url="https://gitlab.example.com/acme/shop/-/pipelines/991",
                 run_number="17", triggered_by="carol", job_id="991", job_template="deploy-prod")),
    "azure_pipelines": (
        dict(TF_BUILD="True", BUILD_REPOSITORY_NAME="shop", BUILD_SOURCEBRANCH="refs/heads/feature/x",
             BUILD_SOURCEVERSION=SHA, SYSTEM_COLLECTIONURI="https://dev.azure.com/acme/", SYSTEM_TEAMPROJECT="Shop",
             BUILD_BUILDID="1234", BUILD_BUILDNUMBER="20261201.3", BUILD_REQUESTEDFOR="Dana Smith",
             BUILD_DEFINITIONNAME="shop-deploy", SYSTEM_ACCESSTOKEN="azure-secret-value"),
        {}, dict(system="azure_pipelines", repository="shop", branch="feature/x", commit=SHA,
                 url="https://dev.azure.com/acme/Shop/_build/results?buildId=1234", run_number="20261201.3",
                 triggered_by="Dana Smith", job_id="1234", job_template="shop-deploy")),
    "jenkins": (
        dict(JENKINS_URL="https://ci.example.com/", GIT_URL="https://deploy:s3cretpass@git.example.com/acme/shop.git",
             GIT_BRANCH="origin/main", GIT_COMMIT=SHA, BUILD_URL="https://ci.example.com/job/shop/55/",
             BUILD_NUMBER="55", BUILD_USER_ID="erin", BUILD_TAG="jenkins-shop-55", JOB_NAME="shop",
             JENKINS_API_TOKEN="jenkins-secret-value"),
        {}, dict(system="jenkins", repository="https://git.example.com/acme/shop.git", branch="main", commit=SHA,
                 url="https://ci.example.com/job/shop/55/", run_number="55", triggered_by="erin",
                 job_id="jenkins-shop-55", job_template="shop")),
    "awx": (
        dict(AWX_HOST="https://awx.example.com/", JOB_ID="314", PROJECT_REVISION=SHA,
             AWX_PRIVATE_TOKEN="awx-secret-value"),
        dict(awx_job_template_name="Deploy shop", awx_user_name="frank", awx_project_scm_branch="main",
             awx_job_id=314),
        dict(system="awx", branch="main", commit=SHA, url="https://awx.example.com/#/jobs/playbook/314",
             triggered_by="frank", job_id="314", job_template="Deploy shop")),
}
SECRET_VALUES = ("ghs_secretvalue123456", "runtime-secret-value", "glcbt-secretvalue", "registry-secret-value",
                 "azure-secret-value", "s3cretpass", "jenkins-secret-value", "awx-secret-value")


@pytest.mark.parametrize("system", sorted(CASES))
def test_each_ci_system_is_read_from_its_own_variables(system):
    environ, variables, expected = CASES[system]
    assert pipeline.detect(environ, variables) == expected


@pytest.mark.parametrize("system", sorted(CASES))
def test_the_values_round_trip_through_fields_and_through_the_block(system):
    environ, variables, expected = CASES[system]
    values = pipeline.detect(environ, variables)
    # local and jsm: the fields; servicenow: the description's block.
    assert pipeline.read({"fields": pipeline.extras(values)}) == expected
    described = pipeline.with_block("Deploy the shop.", values)
    assert described.startswith("Deploy the shop.\n\n" + pipeline.BLOCK_START)
    assert pipeline.read({"description": described, "fields": {}}) == expected
    for secret in SECRET_VALUES:
        assert secret not in described and secret not in repr(pipeline.extras(values))


def test_the_table_reads_no_variable_that_may_hold_a_secret():
    for system in pipeline.SYSTEMS:
        for name in pipeline.variable_names(system):
            assert not pipeline.SECRET_NAME.search(name), (system.name, name)
    # and the pattern does catch the tokens those systems set
    for name in ("GITHUB_TOKEN", "CI_JOB_TOKEN", "SYSTEM_ACCESSTOKEN", "CI_REGISTRY_PASSWORD", "ACTIONS_RUNTIME_TOKEN"):
        assert pipeline.SECRET_NAME.search(name)


def test_nothing_is_read_outside_a_ci_system_and_nothing_unset_is_written():
    assert pipeline.detect({"HOME": "/root", "CI_COMMIT_SHA": SHA}) == {}
    values = pipeline.detect({"GITHUB_ACTIONS": "true", "GITHUB_SHA": SHA})
    assert values == {"system": "github_actions", "commit": SHA}
    # the URL needs every part it is made of
    assert "url" not in pipeline.detect({"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "1"})
    assert pipeline.block({}) == "" and pipeline.with_block("text", {}) == "text"


def test_itsm_pipeline_variables_give_what_a_system_lacks():
    environ = dict(CASES["github_actions"][0], ITSM_PIPELINE_COMMIT_TIME="2026-12-01T08:00:00Z")
    assert pipeline.detect(environ)["commit_time"] == "2026-12-01T08:00:00Z"
    assert pipeline.detect({"ITSM_PIPELINE_SYSTEM": "buildkite", "ITSM_PIPELINE_COMMIT": SHA}) == {
        "system": "buildkite", "commit": SHA}


def test_a_bad_commit_time_or_key_is_refused_naming_it():
    with pytest.raises(ItsmValidationError) as error:
        pipeline.detect({"GITLAB_CI": "true", "CI_COMMIT_TIMESTAMP": "yesterday"})
    assert "environment.commit_time" in error.value.message
    with pytest.raises(ItsmValidationError) as error:
        pipeline.checked({"sha": SHA})
    assert "unknown key sha" in error.value.message and "pipeline" in error.value.message
    with pytest.raises(ItsmValidationError) as error:
        pipeline.checked({"commit": ["a"]})
    assert "pipeline.commit" in error.value.message


def test_a_block_is_replaced_not_repeated_and_other_text_is_kept():
    first = pipeline.with_block("Before.", {"system": "jenkins", "commit": "aaa"})
    second = pipeline.with_block(first + "\n\nAfter.", {"system": "jenkins", "commit": "bbb"})
    assert second.count(pipeline.BLOCK_START) == 1
    assert second.startswith("Before.\n\nAfter.") and pipeline.read({"description": second})["commit"] == "bbb"


def test_values_are_one_line_and_urls_lose_their_credentials():
    values = pipeline.checked({"branch": "main\nCommit: forged", "url": "https://u:p@ci.example.com/1"})
    assert values == {"branch": "main Commit: forged", "url": "https://ci.example.com/1"}
    assert pipeline.read({"description": pipeline.block(values)}) == values


def test_read_finds_the_gate_flag_and_a_block_in_the_notes():
    assert pipeline.read(None) is None and pipeline.read({"fields": {}, "description": "x"}) is None
    record = {"fields": {}, "description": "template text", "close_notes": "done. " + pipeline.gate_line(False),
              "notes": [{"text": "Ansible run finished\n\n" + pipeline.block({"system": "gitlab_ci", "commit": "c"})}]}
    assert pipeline.read(record) == {"system": "gitlab_ci", "commit": "c", "gate_used": False}
    review = {"fields": {}, "notes": [{"text": pipeline.gate_line(False)}, {"text": pipeline.gate_line(True)}]}
    assert pipeline.read(review) == {"gate_used": True}
