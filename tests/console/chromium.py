"""Launch Debian's Chromium under Playwright (Playwright's own browser downloads are not used).

scripts/setup installs it with apt where it is missing (CI runs as root); tests that need it are
skipped with that reason elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def browser_page(
    playwright: Any, tmp_path: Path, viewport: dict[str, int], timeout_ms: int = 60_000
) -> Iterator[Any]:
    """A page on a fresh profile; fails the test on any script error."""
    context = launch(playwright, tmp_path / f"profile-{time.monotonic_ns()}", viewport=viewport)
    errors: list[str] = []
    page = context.pages[0] if context.pages else context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(timeout_ms)
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


def artifacts_dir(tmp_path_factory: Any, name: str) -> Path:
    """Where a browser test's screenshots go: $RIGSHIFT_TEST_ARTIFACTS/NAME to keep them, else a temp dir."""
    where = os.environ.get("RIGSHIFT_TEST_ARTIFACTS")
    path = Path(where) / name if where else tmp_path_factory.mktemp(f"{name}-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
