"""Lock an account for a while after repeated failed logins (counted in Redis, shared by all web processes).

Counting is atomic: each login attempt takes a numbered slot before the password is checked, so parallel guesses
cannot all slip in before the first failure is counted. With LOGIN_MAX_FAILURES = 5, twenty parallel wrong
passwords get exactly five "wrong password" answers and fifteen "locked".
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from cronmanager.extensions import keys, redis_client

# slot = INCR; slots within the limit refresh the lock window, later ones only read how long is left
_TAKE_SLOT = """
local n = redis.call('INCR', KEYS[1])
if n <= tonumber(ARGV[1]) then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return {n, 0}
end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {n, ttl}
"""


@dataclass(frozen=True)
class Attempt:
    slot: int
    locked_for: int  # seconds until the account unlocks; 0 = go ahead and check the password

    @property
    def locking(self) -> bool:
        """Whether this attempt, if its password is wrong, is the one that locks the account."""
        return self.slot == current_app.config["LOGIN_MAX_FAILURES"]


def _key(email: str) -> str:
    return keys().login_failures(email)


def begin_attempt(email: str) -> Attempt:
    """Take one numbered attempt before checking the password; a wrong password leaves its slot taken."""
    cfg = current_app.config
    slot, wait = redis_client().eval(_TAKE_SLOT, 1, _key(email), cfg["LOGIN_MAX_FAILURES"], cfg["LOGIN_LOCKOUT_S"])
    return Attempt(slot=int(slot), locked_for=int(wait))


def clear(email: str) -> None:
    """A successful login frees every slot."""
    redis_client().delete(_key(email))
