"""Headless Chromium (Debian's ``chromium``): screenshots and rendered DOM of an HTML report.

Used by the browser tests and by ``scripts/screenshot.py`` (``make screenshot``).
Chromium runs with the flags this machine needs (no sandbox as root, no GPU,
no background networking, a fresh profile in a temporary folder) and is
pointed at a ``file://`` URL: the report needs no network.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
    "--force-device-scale-factor=1",
)


class BrowserUnavailable(RuntimeError):
    pass


def find_chromium() -> str:
    """Path of a Chromium binary (``$CHROMIUM`` wins), or :class:`BrowserUnavailable`."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    for n in NAMES:
        p = shutil.which(n)
        if p:
            return p
    raise BrowserUnavailable("Chromium not found: install Debian's `chromium` (scripts/setup.sh --browser does it; `make test` runs that)")


def _run(args, timeout):
    exe = find_chromium()
    with tempfile.TemporaryDirectory(prefix="mh-chromium-") as prof:
        cmd = [exe, *FLAGS, f"--user-data-dir={prof}", *args]
        return subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _url(html: Path, fragment: str | None) -> str:
    return html.as_uri() + (f"#{fragment}" if fragment else "")


def _budget(ms: int | None) -> list[str]:
    """``--virtual-time-budget``: Chromium runs the page's scripts (timers, promises) for that long first."""
    return [f"--virtual-time-budget={int(ms)}"] if ms else []


def screenshot(html: str | Path, png: str | Path, width: int = 1280, height: int = 2000, timeout: float = 120,
               fragment: str | None = None, script_ms: int | None = None) -> Path:
    """Render ``html`` (a file, ``#fragment``) at ``width`` x ``height`` CSS pixels and save a PNG screenshot.

    ``script_ms``: let the page's scripts run that long (virtual time) before the shot."""
    html, png = Path(html).resolve(), Path(png).resolve()
    if png.exists():
        png.unlink()
    p = _run([f"--window-size={width},{height}", *_budget(script_ms), f"--screenshot={png}", _url(html, fragment)], timeout)
    if not png.exists():
        raise BrowserUnavailable(f"Chromium wrote no screenshot (exit {p.returncode}): {p.stderr.decode(errors='replace')[-800:]}")
    return png


def dump_dom(html: str | Path, timeout: float = 120, fragment: str | None = None, script_ms: int | None = None) -> str:
    """The DOM as Chromium built it after loading ``html`` (``#fragment``; ``--dump-dom``),
    after its scripts ran for ``script_ms`` of virtual time when given."""
    html = Path(html).resolve()
    p = _run([*_budget(script_ms), "--dump-dom", _url(html, fragment)], timeout)
    out = p.stdout.decode("utf-8", errors="replace")
    if p.returncode != 0 or "<html" not in out:
        raise BrowserUnavailable(f"Chromium could not load {html} (exit {p.returncode}): {p.stderr.decode(errors='replace')[-800:]}")
    return out
