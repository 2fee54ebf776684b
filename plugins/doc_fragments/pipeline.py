# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CI variables read into a change's pipeline (module_utils/_pipeline.py's table), for the recorder callback and
the change_request module. A unit test keeps it equal to the table."""

from __future__ import annotations


class ModuleDocFragment:
    # Notes only: the recorder's option (a switch) and the module's (true or the values) differ.
    DOCUMENTATION = r"""
options: {}
notes:
  - "The CI pipeline is read, per CI system, from these variables (the first one set wins; only what is set is
    written). GitHub Actions (C(GITHUB_ACTIONS=true)): C(GITHUB_REPOSITORY), C(GITHUB_HEAD_REF) or C(GITHUB_REF_NAME), C(GITHUB_SHA),
    C(GITHUB_SERVER_URL)/C(GITHUB_REPOSITORY)/actions/runs/C(GITHUB_RUN_ID), C(GITHUB_RUN_NUMBER),
    C(GITHUB_TRIGGERING_ACTOR) or C(GITHUB_ACTOR), C(GITHUB_RUN_ID), C(GITHUB_WORKFLOW). GitLab CI (C(GITLAB_CI=true)):
    C(CI_PROJECT_PATH), C(CI_MERGE_REQUEST_SOURCE_BRANCH_NAME), C(CI_COMMIT_BRANCH) or C(CI_COMMIT_REF_NAME),
    C(CI_COMMIT_SHA), C(CI_COMMIT_TIMESTAMP), C(CI_PIPELINE_URL) or C(CI_JOB_URL), C(CI_PIPELINE_IID),
    C(GITLAB_USER_LOGIN), C(CI_PIPELINE_ID), C(CI_JOB_NAME). Azure Pipelines (C(TF_BUILD)): C(BUILD_REPOSITORY_NAME),
    C(SYSTEM_PULLREQUEST_SOURCEBRANCH) or C(BUILD_SOURCEBRANCH), C(BUILD_SOURCEVERSION),
    C(SYSTEM_COLLECTIONURI)C(SYSTEM_TEAMPROJECT)/_build/results?buildId=C(BUILD_BUILDID), C(BUILD_BUILDNUMBER),
    C(BUILD_REQUESTEDFOR), C(BUILD_BUILDID), C(BUILD_DEFINITIONNAME). Jenkins (C(JENKINS_URL)): C(GIT_URL),
    C(BRANCH_NAME) or C(GIT_BRANCH), C(GIT_COMMIT), C(BUILD_URL), C(BUILD_NUMBER), C(BUILD_USER_ID) or
    C(CHANGE_AUTHOR), C(BUILD_TAG), C(JOB_NAME). AWX / Automation Platform (C(AWX_HOST)): C(PROJECT_REVISION) or the
    extra variable C(awx_project_revision), C(awx_project_scm_branch), C(AWX_HOST)/#/jobs/playbook/C(JOB_ID),
    C(awx_user_name), C(JOB_ID) or C(awx_job_id), C(awx_job_template_name) (C(tower_*) names too)."
  - "Any CI (or a person) may give or override a value with C(ITSM_PIPELINE_<KEY>): C(ITSM_PIPELINE_SYSTEM),
    C(ITSM_PIPELINE_REPOSITORY), C(ITSM_PIPELINE_BRANCH), C(ITSM_PIPELINE_COMMIT), C(ITSM_PIPELINE_COMMIT_TIME)
    (ISO 8601 with a timezone), C(ITSM_PIPELINE_URL), C(ITSM_PIPELINE_RUN_NUMBER), C(ITSM_PIPELINE_TRIGGERED_BY),
    C(ITSM_PIPELINE_JOB_ID), C(ITSM_PIPELINE_JOB_TEMPLATE). Only GitLab gives the commit's time; git is never run
    (the controller may have no checkout, or one of another commit), so elsewhere set C(ITSM_PIPELINE_COMMIT_TIME)
    for the report's commit-to-deployed lead time. No token or password variable of these systems is ever read,
    and a URL's C(user:password@) is left out."
"""
