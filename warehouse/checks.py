"""The reconciliation check registry (R1-R7), as the warehouse and its readers name it.

Defined once in `connectors.checks` (plain data at the head of the one-way flow, so closeboard.yaml's
validation in `connectors.config` can read it without importing the warehouse); this module is that
same registry, not a copy.
"""

from __future__ import annotations

from connectors.checks import BY_ID, CHECK_IDS, CHECKS, Check

__all__ = ["BY_ID", "CHECK_IDS", "CHECKS", "Check"]
