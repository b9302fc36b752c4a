"""Headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright through `executable_path`
(no browser download). Installed with apt-get where it is missing and we may; else the test is skipped, saying why."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

INSTALL_TIMEOUT_SECONDS = 900


def _found() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_executable() -> str:
    """The path of a Chromium binary, installing Debian's package first if needed (as root, with apt-get)."""
    found = _found()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"]):
            subprocess.run(command, capture_output=True, timeout=INSTALL_TIMEOUT_SECONDS, env=env, check=False)
            if _found():
                break
        else:
            subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True,
                           timeout=INSTALL_TIMEOUT_SECONDS, env=env, check=False)  # fmt: skip
        found = _found()
    if found is None:
        pytest.skip("no Chromium: `apt-get install chromium` is not possible here (not root, or no apt-get)")
    return found
