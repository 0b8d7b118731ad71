"""`python -m cronmanager.maintenance cat ARCHIVE...` prints archived rows as JSON lines (for admins)."""

from __future__ import annotations

import json
import sys

from cronmanager.maintenance.retention import read_archive


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "cat":
        print("usage: python -m cronmanager.maintenance cat ARCHIVE.jsonl.gz...", file=sys.stderr)
        return 2
    for path in argv[1:]:
        for row in read_archive(path):
            sys.stdout.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
