"""The emulator's startup options as one typed object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from smsq.emulator.catalog import DEFAULT_SIGN_NAMES
from smsq.emulator.faults import FaultSettings
from smsq.emulator.receipts import ReceiptSettings
from smsq.emulator.state import Limits
from smsq.net import is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8085
MAX_BODY_BYTES = 64 * 1024  # larger requests get 413 RequestEntityTooLarge
SWEEP_INTERVAL_S = 10.0  # how often expired codes and stale counters are dropped
CONTROL_TOKEN_ENV = "SMSQ_EMULATOR_CONTROL_TOKEN"  # noqa: S105 - the variable's name, not a token
MIN_CONTROL_TOKEN_CHARS = 16


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything ``python -m smsq.emulator`` / ``smsq emulator`` is started with."""

    keys: Mapping[str, str]  # AccessKey id -> secret
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    sign_names: frozenset[str] = frozenset(DEFAULT_SIGN_NAMES)
    faults: FaultSettings = field(default_factory=FaultSettings)
    seed: int | None = None
    limits: Limits = field(default_factory=Limits)
    receipts: ReceiptSettings = field(default_factory=ReceiptSettings)
    control_token: str | None = None  # when set, every control request needs it as a bearer token

    def __repr__(self) -> str:  # never print a secret
        token = "set" if self.control_token else None
        return (
            f"EmulatorConfig(host={self.host!r}, port={self.port}, keys={sorted(self.keys)}, "
            f"sign_names={sorted(self.sign_names)}, faults={self.faults}, seed={self.seed}, "
            f"receipts={self.receipts}, control_token={token})"
        )

    @property
    def loopback(self) -> bool:
        """True when the server binds only the loopback interface."""
        return is_loopback(self.host)
