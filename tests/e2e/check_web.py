"""A web process in worker mode (used by the tests): send a code, then check it as told on stdin.

Prints one JSON line per check (``passed``/``attempts_left`` or the error's class name), then the
Alibaba SDK modules this process loaded (none, in worker mode).
"""

from __future__ import annotations

import json
import sys

from producers import SmsqError, check_code


def main() -> None:
    phone = sys.argv[1]
    for line in sys.stdin:
        code = line.strip()
        try:
            result = check_code(phone, code)
            print(json.dumps({"passed": result.passed, "attempts_left": result.attempts_left}), flush=True)
        except SmsqError as exc:
            print(json.dumps({"error": type(exc).__name__}), flush=True)
    sdk = sorted({name.split(".")[0] for name in sys.modules if name.startswith(("alibabacloud", "Tea"))})
    print(json.dumps({"sdk_modules": sdk}), flush=True)


if __name__ == "__main__":
    main()
