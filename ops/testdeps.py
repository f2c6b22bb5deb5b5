"""Install the Debian packages some tests need (Chromium, promtool, Node), once, when missing.

Run by ``make test`` before pytest. It needs root and apt-get, as on CI and developer machines
here; elsewhere it says what is missing and leaves it to the tests that need it to fail clearly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# command on PATH -> Debian package that provides it
NEEDED = {"chromium": "chromium", "promtool": "prometheus", "node": "nodejs"}  # node: the README client test


def missing_packages() -> list[str]:
    """Debian packages whose command is not on PATH."""
    return [pkg for cmd, pkg in NEEDED.items() if shutil.which(cmd) is None]


def main() -> int:
    """Install what is missing; exit non-zero only when an install was possible and failed."""
    packages = missing_packages()
    if not packages:
        return 0
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"ops.testdeps: please install {' '.join(packages)} (needs root and apt-get)", file=sys.stderr)
        return 0
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"ops.testdeps: installing {' '.join(packages)} with apt-get", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607
    # --no-install-recommends keeps prometheus from pulling in its web UI assets and node exporters.
    subprocess.run(  # noqa: S603 - fixed argv, package names from NEEDED
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],  # noqa: S607
        check=True,
        env=env,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
