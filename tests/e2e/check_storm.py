"""A process that fires many wrong check_code calls at one number at once (used by the tests)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from producers import CheckLocked, check_code


def one(phone: str) -> str:
    try:
        return "passed" if check_code(phone, "00000000").passed else "failed"
    except CheckLocked:
        return "locked"


def main() -> None:
    phone, calls = sys.argv[1], int(sys.argv[2])
    with ThreadPoolExecutor(max_workers=calls) as pool:
        results = list(pool.map(one, [phone] * calls))
    print(" ".join(results))


if __name__ == "__main__":
    main()
