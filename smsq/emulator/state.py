"""In-memory provider state and the business rules of both actions; every collection is bounded.

* codes live until they expire, are used up by a PASS, or are evicted (oldest first) past ``max_codes``;
* the outbox keeps the newest ``outbox_size`` messages;
* frequency (Interval) and daily counters track at most ``max_numbers`` numbers, oldest evicted first;
* nonces are remembered for the 15-minute replay window, at most ``max_nonces`` of them;
* stats count by (action, outcome) and keep the last ``max_send_timestamps`` accepted-send times.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field
from typing import Any

from smsq.emulator import errors
from smsq.emulator.catalog import CODE_ALPHABETS, CODE_PLACEHOLDER, TEMPLATES
from smsq.emulator.clock import Clock

NONCE_WINDOW_S = 15 * 60  # the gateway's allowed clock skew, and so the replay window
CHINA_UTC_OFFSET_S = 8 * 3600  # the daily cap resets at midnight Beijing time
MAX_CODES_PER_KEY = 20  # DuplicatePolicy=2 keeps several codes; never more than this many


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A validated SendSmsVerifyCode request."""

    phone: str
    sign_name: str
    template_code: str
    template_param: dict[str, str]
    scheme_name: str
    code_length: int
    code_type: int
    valid_time_s: int
    interval_s: int
    duplicate_policy: int
    out_id: str | None
    access_key_id: str
    request_id: str


@dataclass(frozen=True, slots=True)
class Message:
    """One SMS in the outbox (the shape of ``GET /_emulator/messages`` items)."""

    phone: str
    code: str | None
    text: str
    sign_name: str
    template_code: str
    template_param: dict[str, str]
    scheme_name: str
    biz_id: str
    out_id: str | None
    request_id: str
    access_key_id: str
    sent_at: float

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


@dataclass(slots=True)
class _Code:
    value: str
    expires_at: float


def _bounded_put(mapping: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> None:
    mapping[key] = value
    mapping.move_to_end(key)
    while len(mapping) > limit:
        mapping.popitem(last=False)


@dataclass
class Limits:
    """Capacity of every collection the emulator keeps."""

    outbox_size: int = 1000
    max_codes: int = 200_000
    max_numbers: int = 200_000
    max_nonces: int = 300_000
    max_send_timestamps: int = 100_000
    max_receipts: int = 100_000


class Store:
    """Codes, the outbox, frequency and daily counters: the provider's side of both actions."""

    def __init__(self, clock: Clock, code_rng: random.Random, limits: Limits | None = None) -> None:
        self.clock = clock
        self.limits = limits or Limits()
        self._code_rng = code_rng
        self._codes: OrderedDict[tuple[str, str], list[_Code]] = OrderedDict()
        self._next_send_at: OrderedDict[str, float] = OrderedDict()
        self._daily: OrderedDict[str, int] = OrderedDict()
        self._day = -1
        self._outbox: deque[Message] = deque(maxlen=self.limits.outbox_size)
        self._biz_seq = 0

    def send(self, request: SendRequest, daily_limit: int | None) -> Message:
        """Apply the send rules; generate, store and "deliver" the code. Raises a ``BusinessError``."""
        now = self.clock.now()
        template = TEMPLATES[request.template_code]
        if set(request.template_param) != template.variables:
            raise errors.InvalidParameters()
        next_at = self._next_send_at.get(request.phone)
        if next_at is not None and now < next_at:
            raise errors.BizFrequency()
        day = int((now + CHINA_UTC_OFFSET_S) // 86400)
        if day != self._day:
            self._day = day
            self._daily.clear()
        sent_today = self._daily.get(request.phone, 0)
        if daily_limit is not None and sent_today >= daily_limit:
            raise errors.BusinessLimitControl()

        code = None
        params = dict(request.template_param)
        if any(CODE_PLACEHOLDER in value for value in params.values()):
            alphabet = CODE_ALPHABETS[request.code_type]
            code = "".join(self._code_rng.choice(alphabet) for _ in range(request.code_length))
            params = {name: value.replace(CODE_PLACEHOLDER, code) for name, value in params.items()}
            self._store_code(request, code, now)
        limits = self.limits
        _bounded_put(self._next_send_at, request.phone, now + request.interval_s, limits.max_numbers)
        _bounded_put(self._daily, request.phone, sent_today + 1, limits.max_numbers)
        self._biz_seq += 1
        message = Message(
            phone=request.phone,
            code=code,
            text=template.render(request.sign_name, params),
            sign_name=request.sign_name,
            template_code=request.template_code,
            template_param=params,
            scheme_name=request.scheme_name,
            biz_id=f"{int(now * 1000)}{self._biz_seq % 1_000_000:06d}^0",
            out_id=request.out_id,
            request_id=request.request_id,
            access_key_id=request.access_key_id,
            sent_at=now,
        )
        self._outbox.append(message)
        return message

    def _store_code(self, request: SendRequest, code: str, now: float) -> None:
        key = (request.scheme_name, request.phone)
        entry = _Code(code, now + request.valid_time_s)
        kept = self._codes.get(key, []) if request.duplicate_policy == 2 else []
        kept = [*[c for c in kept if c.expires_at > now][-(MAX_CODES_PER_KEY - 1) :], entry]
        _bounded_put(self._codes, key, kept, self.limits.max_codes)

    def check(self, phone: str, scheme_name: str, code: str, case_sensitive: bool) -> bool:
        """True (PASS) when ``code`` is a live code of this number and scheme; a PASS uses it up."""
        key = (scheme_name, phone)
        entries = self._codes.get(key)
        if not entries:
            return False
        now = self.clock.now()
        live = [c for c in entries if c.expires_at > now]
        wanted = code if case_sensitive else code.casefold()
        for entry in live:
            if (entry.value if case_sensitive else entry.value.casefold()) == wanted:
                live.remove(entry)
                break
        else:
            self._replace_codes(key, live)
            return False
        self._replace_codes(key, live)
        return True

    def _replace_codes(self, key: tuple[str, str], live: list[_Code]) -> None:
        if live:
            self._codes[key] = live
        else:
            del self._codes[key]

    def messages(self, phone: str | None = None) -> list[Message]:
        """The outbox, newest first, optionally only one number's messages."""
        return [m for m in reversed(self._outbox) if phone is None or m.phone == phone]

    def sweep(self) -> None:
        """Drop expired codes and frequency entries that no longer block anything."""
        now = self.clock.now()
        for key in [k for k, entries in self._codes.items() if all(c.expires_at <= now for c in entries)]:
            del self._codes[key]
        for phone in [p for p, at in self._next_send_at.items() if at <= now]:
            del self._next_send_at[phone]

    def sizes(self) -> dict[str, int]:
        """How many entries each collection holds (for tests and the stats page)."""
        return {
            "codes": len(self._codes),
            "messages": len(self._outbox),
            "frequency_entries": len(self._next_send_at),
            "daily_entries": len(self._daily),
        }


class NonceMemory:
    """Signature nonces seen in the last 15 minutes, per AccessKey."""

    def __init__(self, clock: Clock, limit: int) -> None:
        self.clock = clock
        self._limit = limit
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def first_use(self, key_id: str, nonce: str, signed_at: float | None = None) -> bool:
        """Record ``nonce``; False when it was already used inside the window.

        A nonce is kept until its request's time stamp (``signed_at``, which may lie up to the window
        ahead of the server's clock) can no longer be accepted, so the same signed request never
        passes twice: remembering it only for the window after first use would let a request dated
        in the future be replayed once its nonce is forgotten but its date is still current.
        """
        now = self.clock.now()
        seen = self._seen
        while seen:
            forget_at = next(iter(seen.values()))
            if forget_at > now:
                break
            seen.popitem(last=False)
        key = (key_id, nonce)
        if key in seen:
            return False
        _bounded_put(seen, key, max(now, signed_at or now) + NONCE_WINDOW_S, self._limit)
        return True

    def __len__(self) -> int:
        return len(self._seen)

    def reset(self) -> None:
        """Forget every nonce."""
        self._seen.clear()


@dataclass
class Stats:
    """Counters by action and outcome, and the times of accepted sends."""

    max_send_timestamps: int = 100_000
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    total: int = 0
    send_requests: int = 0
    check_requests: int = 0
    send_timestamps: deque[float] = field(init=False)

    def __post_init__(self) -> None:
        self.send_timestamps = deque(maxlen=self.max_send_timestamps)

    def count(self, action: str, outcome: str) -> None:
        """Count one answered request of ``action`` (a known action or ``"(other)"``)."""
        self.total += 1
        per_action = self.requests.setdefault(action, {})
        per_action[outcome] = per_action.get(outcome, 0) + 1

    def reset(self) -> None:
        """All counters back to zero."""
        self.requests.clear()
        self.total = self.send_requests = self.check_requests = 0
        self.send_timestamps.clear()

    def as_dict(self) -> dict[str, Any]:
        """The ``GET /_emulator/stats`` body."""
        return {
            "requests": self.requests,
            "total": self.total,
            "send_requests": self.send_requests,
            "check_requests": self.check_requests,
            "send_timestamps": list(self.send_timestamps),
        }
