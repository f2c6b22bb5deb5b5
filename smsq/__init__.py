"""smsq's runnable toolbox: the ``smsq`` command line, the local dev stack, the HTTP gateway, the
Dypnsapi emulator, and the bench and chaos runners.

A web backend imports :mod:`producers`; the Celery side is :mod:`worker`. Nothing here is imported
by either of them. Importing this package imports nothing else, so ``smsq.emulator`` stays apart.
"""
