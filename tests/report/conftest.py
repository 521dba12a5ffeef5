import os
import shutil
import subprocess

import pytest

BROWSERS = ("chromium", "chromium-browser")


def _find() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def _install() -> str:
    """apt-get install Debian's chromium (as root, else through sudo); returns apt's output for the failure text."""
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = []
    for cmd in (["apt-get", "install", "-y", "-qq", "chromium"], ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            done = subprocess.run(prefix + cmd, check=False, capture_output=True, text=True, env=env, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            log.append(f"{' '.join(cmd)}: {e}")
            break
        log.append(f"{' '.join(cmd)}: exit {done.returncode} {done.stderr.strip()[-400:]}")
        if cmd[1] == "install" and done.returncode == 0:
            break
    return "\n".join(log)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium, installed here when missing; the browser test fails (never skips) without it."""
    path = _find()
    if path is None:
        log = _install()
        path = _find()
        if path is None:
            pytest.fail("the report's browser test needs Debian's chromium and it could not be installed "
                        f"(run `apt-get install chromium` as root):\n{log}", pytrace=False)
    return path
