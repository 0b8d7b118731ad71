"""Framework-free helpers: no Flask, no database, no Redis; each usable from any layer."""
