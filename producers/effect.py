"""The sync and the async API from one body: flows that yield effects, and two drivers.

``send_code`` and ``asend_code`` must validate, limit, lock out and fail alike, so their steps are
written once, as a *flow*: a generator that yields an :class:`Effect` (run a Redis script, publish,
ask the provider, pause), receives its result (or has its error thrown in at the ``yield``), and
returns the answer. :func:`blocking` drives a flow with blocking I/O, :func:`awaitable` with asyncio;
each effect knows how to do itself both ways (``run`` / ``arun``), so neither driver knows any step.

It is h11's sans-I/O idea applied to a call's steps rather than a protocol. The usual alternative,
generating the sync code from the async (httpcore's ``unasync``), needs a build step and leaves two
copies to read; here each rule (a limit, the lockout, what a failed call gives back) exists once.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")
F = TypeVar("F", bound=Callable[..., Any])


class Effect(Generic[T]):
    """One step of I/O a flow asks for; ``yield from effect`` evaluates to its result."""

    def run(self) -> T:
        """Do it, blocking."""
        raise NotImplementedError

    async def arun(self) -> T:
        """Do it on the running event loop."""
        raise NotImplementedError

    def __iter__(self) -> Generator[Effect[Any], Any, T]:
        result: T = yield self
        return result


#: A flow: yields effects, receives their results, returns ``T``.
Flow = Generator[Effect[Any], Any, T]


class Pause(Effect[None]):
    """Wait ``seconds`` (between retries)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def run(self) -> None:
        time.sleep(self.seconds)

    async def arun(self) -> None:
        await asyncio.sleep(self.seconds)


#: Threads on which the async API runs the calls that can only block (Celery's publish). A publish
#: takes about a millisecond, so a few threads keep up with thousands a second; the bound also keeps
#: a burst from wanting more broker connections than Celery's pool holds (``broker_pool_limit`` 10).
BLOCKING_THREADS = 4

_pools: dict[tuple[int, str], ThreadPoolExecutor] = {}


class Blocking(Effect[T]):
    """A call that blocks: the sync API makes it in place, the async API on a small thread pool
    (:data:`BLOCKING_THREADS`), so the event loop never waits on it."""

    def __init__(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> None:
        self._call = functools.partial(call, *args, **kwargs)

    def run(self) -> T:
        return self._call()

    async def arun(self) -> T:
        return await in_thread(self._call, pool="blocking", threads=BLOCKING_THREADS)


async def in_thread(call: Callable[[], T], *, pool: str, threads: int) -> T:
    """``call()`` on the process's thread pool named ``pool`` (at most ``threads`` threads)."""
    key = (os.getpid(), pool)  # a forked child has none of its parent's threads: it gets pools of its own
    executor = _pools.get(key)
    if executor is None:
        executor = _pools.setdefault(key, ThreadPoolExecutor(threads, thread_name_prefix=f"smsq-{pool}"))
    return await asyncio.get_running_loop().run_in_executor(executor, call)


class _Stepper(Generic[T]):
    """Feeds a flow the outcome of each effect until it returns."""

    def __init__(self, flow: Flow[T]) -> None:
        self._flow = flow
        self.effect: Effect[Any] | None = None
        self.value: T
        self.advance(None, None)

    def advance(self, result: Any, error: Exception | None) -> None:
        """Resume the flow with ``result``, or raise ``error`` inside it at its ``yield``."""
        try:
            self.effect = self._flow.send(result) if error is None else self._flow.throw(error)
        except StopIteration as stop:
            self.effect, self.value = None, stop.value


def _outcome(call: Callable[[], Any]) -> tuple[Any, Exception | None]:
    try:
        return call(), None
    except Exception as exc:  # handed to the flow, which re-raises what it does not handle
        return None, exc


async def _aoutcome(pending: Awaitable[Any]) -> tuple[Any, Exception | None]:
    try:
        return await pending, None
    except Exception as exc:  # as in _outcome; a cancellation is not an Exception and stops the flow
        return None, exc


def blocking(flow: Callable[P, Flow[T]], name: str) -> Callable[P, T]:
    """The function ``name`` that runs ``flow`` with blocking I/O (the sync API)."""

    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        stepper = _Stepper(flow(*args, **kwargs))
        while stepper.effect is not None:
            stepper.advance(*_outcome(stepper.effect.run))
        return stepper.value

    return _named(call, flow, name)


def awaitable(flow: Callable[P, Flow[T]], name: str) -> Callable[P, Coroutine[Any, Any, T]]:
    """The coroutine function ``name`` that runs ``flow`` on the running event loop (the async API)."""

    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        stepper = _Stepper(flow(*args, **kwargs))
        while stepper.effect is not None:
            stepper.advance(*await _aoutcome(stepper.effect.arun()))
        return stepper.value

    return _named(call, flow, name)


def _named(call: F, flow: Callable[..., Any], name: str) -> F:
    functools.update_wrapper(call, flow)  # the flow's module and docstring
    call.__name__ = call.__qualname__ = name
    # help() and IDEs show the flow's parameters and what the call gives (``Ticket``, not ``Flow[Ticket]``)
    signature = inspect.signature(flow)
    returns = str(signature.return_annotation).removeprefix("Flow[").removesuffix("]")
    call.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
    return call
