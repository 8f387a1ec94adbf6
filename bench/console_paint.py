"""The console's first useful paint on the demo: how long until the Overview shows the farm's data.

    python bench/console_paint.py                    # starts `rigshift up --demo`, 10 loads
    python bench/console_paint.py --loads 20
    python bench/console_paint.py --url http://127.0.0.1:8000 --admin-key rs-…   # a running server

Chromium (Debian's, through Playwright) logs in once, then reloads the Overview `--loads` times
with its session cookie, as an operator's returning browser does. Per load, from the page's
navigation start (Navigation Timing), it reads:
  - first contentful paint (Paint Timing): the page shell is on screen;
  - useful paint: the console's `rigshift:useful-paint` mark, set in the first animation frame
    after the Overview's figures from GET /admin/overview are in the DOM.
Baseline in the same run: the login page (no session, no API call) is the floor the browser and
server need to paint anything; GET /admin/overview's own time (httpx, server already warm) is the
part the data costs. Target: useful paint under 1 s (median), with the decision's funnel and the
Overview's two history charts (farm power, tokens/s over 24 h) on screen: the bench waits until
the demo agent's telemetry has made history points, and counts the loads that drew them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from rigshift.server.serving import free_port

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
TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const useful = performance.getEntriesByName('rigshift:useful-paint')[0];
  return {fcp: fcp ? fcp.startTime : null, useful: useful ? useful.startTime : null,
          response: nav ? nav.responseEnd : null};
}"""


CHARTS_DRAWN = """() => !!document.querySelector('#ov-decision .funnel svg')
  && document.querySelectorAll('#ov-history canvas').length >= 2"""
TRAFFIC = 5  # requests the bench makes first, so the tokens/s chart has points to draw


@contextlib.contextmanager
def demo_stack() -> Iterator[tuple[str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="rigshift-paint-"))
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rigshift.cli.app",
            "up",
            "--demo",
            "--port",
            str(port),
            "--db",
            str(tmp / "up.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "XDG_DATA_HOME": str(tmp)},
        start_new_session=True,
    )
    try:
        found: dict[str, str] = {}
        assert proc.stdout is not None
        deadline = time.monotonic() + 300
        while "console" not in found and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("rigshift up --demo exited before printing the console URL")
            for name, pattern in (
                ("admin", r"admin key \(shown once\): (\S+)"),
                ("console", r"console: (http://\S+)/ "),
                ("demo", r"demo API key: (\S+)"),
            ):
                if match := re.search(pattern, line):
                    found[name] = match.group(1)
        serve_some(found["console"], found.get("demo"))
        yield found["console"], found["admin"]
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def wait_warm(url: str, key: str, timeout_s: float = 120.0) -> None:
    """The server assesses and prices its fleet in the background after start; measure after that."""
    deadline = time.monotonic() + timeout_s
    headers = {"authorization": f"Bearer {key}"}
    while time.monotonic() < deadline:
        if httpx.get(url + "/admin/assess?view=summary", headers=headers, timeout=120).status_code == 200:
            httpx.get(url + "/admin/econ", headers=headers, timeout=120)
            return
        time.sleep(0.5)


def serve_some(url: str, demo_key: str | None) -> None:
    """A few real requests through the gateway, so the tokens/s history has points."""
    if demo_key is None:
        return
    models = httpx.get(url + "/v1/models", headers={"authorization": f"Bearer {demo_key}"}, timeout=30).json()
    body = {
        "model": models["data"][0]["id"],
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 8,
    }
    for _ in range(TRAFFIC):
        httpx.post(
            url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {demo_key}"},
            timeout=60,
        ).raise_for_status()


def wait_for_history(url: str, key: str, timeout_s: float = 120.0) -> None:
    """The Overview's charts draw once the history has points (the demo agent's reports, written
    every history_flush_s): measure the page with its charts, not their empty state."""
    deadline = time.monotonic() + timeout_s
    headers = {"authorization": f"Bearer {key}"}
    while time.monotonic() < deadline:
        have = [
            httpx.get(
                url + "/admin/history", params={"series": s, "range": "24h"}, headers=headers, timeout=30
            )
            for s in ("site.power_w", "model.tokens_per_s")
        ]
        if all(a.status_code == 200 and a.json()["points"] for a in have):
            return
        time.sleep(1)
    print("  (no history points yet: the charts show their empty state)")


def timing_when(page: object, key: str, timeout_s: float = 30.0) -> dict[str, float | None]:
    """Poll the page's timings until `key` is set (the console's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        timing = page.evaluate(TIMING)  # type: ignore[attr-defined]
        if timing[key] is not None:
            return timing
        time.sleep(0.02)
    raise SystemExit(f"no {key} timing within {timeout_s:g} s")


def summary(values: Sequence[float | None]) -> str:
    """Median, p90 and max of the loads that reported a value. Chromium reports no first
    contentful paint for some reloads (a paint it attributes to the previous document); those
    loads are counted, not summed (a None here was a TypeError that stopped the bench)."""
    ordered = sorted(v for v in values if v is not None)
    missing = len(values) - len(ordered)
    note = f"   ({missing} of {len(values)} loads reported none)" if missing else ""
    if not ordered:
        return f"none reported{note}"
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (
        f"median {statistics.median(ordered):6.0f} ms   p90 {p90:6.0f} ms   max {ordered[-1]:6.0f} ms{note}"
    )


def measure(url: str, key: str, loads: int, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    wait_warm(url, key)
    wait_for_history(url, key)
    api_ms = []
    for _ in range(loads):
        started = time.perf_counter()
        httpx.get(
            url + "/admin/overview", headers={"authorization": f"Bearer {key}"}, timeout=30
        ).raise_for_status()
        api_ms.append((time.perf_counter() - started) * 1000)
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            args=ARGS,
            headless=True,
            viewport={"width": 1366, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        floor = []
        for _ in range(loads):
            page.goto(url + "/", wait_until="load")
            page.wait_for_selector("#login:not([hidden])")
            floor.append(timing_when(page, "fcp")["fcp"])
        page.fill("#login-key", key)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#page[data-loaded=overview]")
        fcp: list[float | None] = []
        useful: list[float | None] = []
        drawn = 0
        for _ in range(loads):
            page.reload()  # a full load of / with the session cookie: the Overview
            timing = timing_when(page, "useful")
            fcp.append(timing["fcp"])
            useful.append(timing["useful"])
            # At the useful-paint mark the funnel and the history charts are in the DOM or not.
            drawn += page.evaluate(CHARTS_DRAWN)
        context.close()
    print(f"console paint on {url} ({loads} loads, Chromium at 1366 px, session cookie, warm server)")
    print(f"  baseline: login page first paint   {summary(floor)}")
    print(f"  baseline: GET /admin/overview      {summary(api_ms)}")
    print(f"  overview first contentful paint    {summary(fcp)}")
    print(f"  overview useful paint (data shown) {summary(useful)}")
    print(f"  funnel and both history charts drawn at useful paint: {drawn} of {loads} loads")
    measured = [u for u in useful if u is not None]
    verdict = "meets" if measured and statistics.median(measured) < 1000 else "MISSES"
    print(f"  target: useful paint < 1000 ms (median): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--url", help="a running server's URL (default: start rigshift up --demo)")
    parser.add_argument("--admin-key", help="its admin key (with --url)")
    parser.add_argument("--chromium", default=os.environ.get("RIGSHIFT_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    if args.url:
        if not args.admin_key:
            parser.error("--url needs --admin-key")
        measure(args.url.rstrip("/"), args.admin_key, args.loads, args.chromium)
        return
    with demo_stack() as (url, key):
        measure(url, key, args.loads, args.chromium)


if __name__ == "__main__":
    main()
