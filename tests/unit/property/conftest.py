# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypothesis settings of the property-based tests (issue 14): the same examples on every run (derandomized, no
example database left in the tree), few enough that the whole directory stays well under a minute on CI."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "opsgate", derandomize=True, database=None, deadline=None, print_blob=False,
    # the tests share a store and a scratch directory across examples on purpose (one store per module)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("opsgate")
