"""A real browser for UI tests: Debian's Chromium, headless, driven by Playwright.

Playwright's own browser download is not used (this machine's network refuses it); Debian's
``chromium`` is installed on first use and started with the flags that keep it from calling out.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from localcluster.up import install_packages

CHROMIUM = Path("/usr/bin/chromium")
#: No background calls to Google's services: on a closed network each one fails, many at a time.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip


def ensure_chromium() -> Path:
    """Install Debian's chromium unless it is there; return its path."""
    if not CHROMIUM.exists():
        install_packages(["chromium"])
    assert shutil.which(str(CHROMIUM)), f"{CHROMIUM} is not executable after installing chromium"
    return CHROMIUM


@contextmanager
def browser_page(*, width: int = 1440, height: int = 900) -> Iterator:
    """Yield a Playwright page in a fresh headless Chromium profile."""
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
