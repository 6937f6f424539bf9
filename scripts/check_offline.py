"""Open a geo-risk HTML file in headless Chromium with the network blocked; report and screenshot.

Usage: .venv/bin/python scripts/check_offline.py out/demo/map.html [--png map.png]

Prints every request the page tried to make outside the file itself (there should be none)
and any JavaScript error, and exits 1 if there was either. Needs Debian's `chromium`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("--png", type=Path, default=None, help="write a screenshot here")
    parser.add_argument("--wait-ms", type=int, default=1500)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not found: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    url = args.html.resolve().as_uri()
    outside: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})

        def route(r):  # type: ignore[no-untyped-def]
            if r.request.url == url or r.request.url.startswith(("data:", "blob:")):
                return r.continue_()
            outside.append(r.request.url)
            return r.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_timeout(args.wait_ms)
        if args.png:
            page.screenshot(path=str(args.png), full_page=True)
        browser.close()
    print(f"requests outside the file: {len(outside)}")
    for u in outside:
        print(f"  {u}")
    print(f"JavaScript errors: {len(errors)}")
    for e in errors:
        print(f"  {e}")
    return 1 if outside or errors else 0


if __name__ == "__main__":
    sys.exit(main())
