"""``python -m smsq.cli``: the ``smsq`` command.

``python -m`` puts the current directory first on ``sys.path``; it is taken off again so that a
``worker.py`` or ``producers/`` there cannot stand in for smsq's own packages (the console script
``smsq`` never has it on the path).
"""

import os
import sys

sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd())]

from smsq.cli import main  # noqa: E402 - after the path is cleaned

main()
