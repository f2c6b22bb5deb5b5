"""Keys that keep phone numbers out of Redis: keyed hashes name its keys, encryption seals values.

A phone number is personal data, and a 7-digit prefix plus the masked form (``135****2222``)
rebuilds it; Redis shows key names in ``SCAN`` and ``MONITOR`` and writes keys and values to its
RDB and AOF files. So:

- every key name derived from a number, a prefix or a client IP carries
  ``HMAC-SHA256(hash key, what it names)`` instead (the first 128 bits, hex);
- a queued send's record holds the number sealed with Fernet (AES-128-CBC and HMAC-SHA256: tampering
  is detected), since the worker must read it back; the record drops it once the send is final.

Both keys come from the settings (``SMSQ_HASH_KEYS``, ``SMSQ_ENCRYPTION_KEYS``), never from Redis.
Each is a list, the current key first. Rotation: put a new key first and keep the old one after
it; new writes use the new key, while every listed key still reads (a sealed number opens with any,
and a lookup by number tries the name under each). Drop the old key once nothing it wrote can
matter: a record TTL (24 h) for sealed numbers, the longest limit window for key names
(ops/runbook.md, "Rotate the data keys").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from producers import constants
from producers.errors import ConfigurationError, DecryptionFailed
from producers.settings import Settings, get_settings

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

#: Hex digits of a digest kept in a key name: 128 bits, far beyond any collision among subjects.
DIGEST_HEX = 32

_MISSING = (
    "{variable} is not set: smsq keeps phone numbers out of Redis with it ({how}; `smsq dev` "
    "writes its own to dev.env)"
)


class Keyring:
    """The process's hash keys and encryption keys, and the key names they give."""

    def __init__(self, hash_keys: Sequence[bytes], encryption_keys: Sequence[bytes]) -> None:
        from cryptography.fernet import Fernet, MultiFernet  # noqa: PLC0415 - keeps `import producers` cheap

        if not hash_keys or not encryption_keys:
            raise ValueError("a keyring needs at least one hash key and one encryption key")
        self._hash_keys = tuple(hash_keys)
        self._fernet: MultiFernet = MultiFernet([Fernet(key) for key in encryption_keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """The keyring of ``settings``; raises :class:`ConfigurationError` (one line) without keys."""
        if not settings.hash_keys:
            raise ConfigurationError(
                _MISSING.format(variable="SMSQ_HASH_KEYS", how="generate one with `openssl rand -hex 32`")
            )
        if not settings.encryption_keys:
            how = "generate one with `openssl rand -base64 32 | tr '+/' '-_'`"
            raise ConfigurationError(_MISSING.format(variable="SMSQ_ENCRYPTION_KEYS", how=how))
        return cls(
            [key.get_secret_value().encode() for key in settings.hash_keys],
            [key.get_secret_value().encode() for key in settings.encryption_keys],
        )

    @staticmethod
    def new_hash_key() -> str:
        """A fresh hash key (256 random bits, hex), as ``openssl rand -hex 32`` makes one."""
        return secrets.token_hex(32)

    @staticmethod
    def new_encryption_key() -> str:
        """A fresh Fernet key (32 random bytes, url-safe base64)."""
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")

    # --- keyed digests ----------------------------------------------------------------------------

    def digests(self, kind: str, *parts: str) -> tuple[str, ...]:
        """The digest of ``parts`` (for the use ``kind``) under every hash key, the current first."""
        message = "\x00".join((kind, *parts)).encode("utf-8", "surrogatepass")
        return tuple(
            hmac.new(key, message, hashlib.sha256).hexdigest()[:DIGEST_HEX] for key in self._hash_keys
        )

    def live_code_keys(self, phone: str, scheme: str = constants.DEFAULT_SCHEME_NAME) -> tuple[str, ...]:
        """The names of a number's live-code key in ``scheme``, the current first
        (``constants.last_sent_key``). The provider keeps one live code per number and scheme."""
        parts = (phone,) if scheme == constants.DEFAULT_SCHEME_NAME else (phone, scheme)
        return tuple(constants.last_sent_key(digest) for digest in self.digests("live", *parts))

    def calls_key(self, phone: str) -> str:
        """The name of a number's log of recent provider calls (``constants.calls_key``)."""
        return constants.calls_key(self.digests("calls", phone)[0])

    def limit_keys(self, scope: str, subject: str) -> tuple[str, ...]:
        """The names of one limit log (a scope and subject: a number, prefix, IP bucket…)."""
        return tuple(constants.limit_key(scope, digest) for digest in self.digests(f"limit:{scope}", subject))

    def idempotency_keys(self, phone: str, purpose: str, key: str) -> tuple[str, ...]:
        """The names of a caller's idempotency key: scoped to the number and the purpose, so the
        same key for another number or purpose is another key and reveals nothing of it."""
        digests = self.digests("idem", phone, purpose, key)
        return tuple(constants.idempotency_key(digest) for digest in digests)

    # --- sealed values ----------------------------------------------------------------------------

    def seal(self, phone: str) -> str:
        """``phone`` encrypted and authenticated with the current encryption key."""
        return self._fernet.encrypt(phone.encode()).decode("ascii")

    def unseal(self, token: str) -> str:
        """The number sealed in ``token``; raises :class:`DecryptionFailed` when no listed key
        opens it (sealed under a key no longer listed, or altered)."""
        from cryptography.fernet import InvalidToken  # noqa: PLC0415

        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise DecryptionFailed(
                "the sealed phone number opens with none of SMSQ_ENCRYPTION_KEYS (removed too early?)"
            ) from None


_current: tuple[Settings, Keyring] | None = None


def get_keyring() -> Keyring:
    """The keyring of this process's settings (built again when ``configure()`` changed them).

    Raises :class:`ConfigurationError` when the keys are not configured."""
    global _current  # noqa: PLW0603 - one keyring per settings object
    settings = get_settings()
    current = _current
    if current is None or current[0] is not settings:
        current = _current = (settings, Keyring.from_settings(settings))
    return current[1]
