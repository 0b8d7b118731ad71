"""How deeply a JSON document nests, found without parsing it.

Python's json parser recurses once per level: a body of 50,000 `[` exhausts the interpreter's stack
(RecursionError, a 500) before any validation runs. Counting brackets outside strings is linear and bounded.
"""

from __future__ import annotations

import re
from itertools import accumulate

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1


def nesting_depth(data: bytes) -> int:
    """The deepest level of arrays and objects in `data` (0 for a scalar); malformed input gives a best guess."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    return max(0, max(accumulate(map(_STEP.__getitem__, brackets))))


def too_deep(data: bytes, limit: int) -> bool:
    """True when `data` nests deeper than `limit`; cheap for the common small body."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    return nesting_depth(data) > limit
