"""`flask backup DIR` and `flask restore DIR` (SPEC §22): the database, the retention archives and a manifest.

The manifest names the schema revision and the fingerprints of the encryption keys the stored secrets need, so a
restore can refuse, before it writes anything, to bring back secrets the configured keys could never open.
"""
