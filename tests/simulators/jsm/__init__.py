"""A local Jira Service Management simulator (Cloud and Data Center flavours) for tests.

Run ``python -m tests.simulators.jsm --help``; the specification is shared/reference/jira-api.md.
"""
