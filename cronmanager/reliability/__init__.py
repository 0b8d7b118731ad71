"""Reliability at a glance (SPEC §20): health from the hourly rollups, the slot ledger, status badges."""
