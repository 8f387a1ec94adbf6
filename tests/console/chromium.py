"""Launch Debian's Chromium under Playwright (Playwright's own browser downloads are not used).

scripts/setup installs it with apt where it is missing (CI runs as root); tests that need it are
skipped with that reason elsewhere.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("RIGSHIFT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Headless and quiet: no GPU, no QUIC, no first-run UI, no calls home (the test machine has no
# network, and a browser waiting on one makes timings noisy).
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file()


def launch(playwright: Any, user_data_dir: Path, **context: Any) -> Any:
    """A persistent context on a fresh profile directory (nothing carried over between runs)."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, args=ARGS, headless=True, **context
    )
