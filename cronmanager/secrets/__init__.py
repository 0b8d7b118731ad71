"""Write-only job secrets (SPEC §6): which values are secret, how they are sealed at rest, and when they are opened.

A job's plain columns (headers, query_params, endpoint_url) only ever hold `***` where a secret was given; the
values themselves live Fernet-encrypted in `cron_jobs.sealed_secrets` and are opened in two places only: when a
worker builds the outgoing request, and in `POST /cron/test`. Every display path (API, dashboard, SSE, exports,
audit, archives) therefore shows `***` without having to remember to mask.
"""
