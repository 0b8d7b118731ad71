"""Teams (SPEC §18): groups of users who own jobs, service-account tokens and alert channels together."""
