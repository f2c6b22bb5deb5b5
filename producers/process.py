"""Per-process state built from the settings, and how to forget it."""

from __future__ import annotations


def reset_caches() -> None:
    """Forget every per-process object built from settings (settings, Redis clients, the Celery
    producer, the SDK client, abuse rules), so a changed environment takes effect. For tests,
    benchmarks and tools that reconfigure a process; a web backend never needs it."""
    from producers import connections, guard, outbound, provider, publisher, settings, store  # noqa: PLC0415

    settings.reset_settings()
    guard.get_guard.cache_clear()
    publisher.reset_app()
    outbound.reset_outbound()
    provider.reset_provider()
    connections.reset_clients()
    store.store_for.cache_clear()
