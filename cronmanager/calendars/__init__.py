"""Calendars (SPEC §21): the API, the service and the pages; the rules are in cronmanager/scheduling/calendar_*."""
