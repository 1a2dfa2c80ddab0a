"""End to end in a real browser: Playwright driving Debian's Chromium against `kypho.web`.

Logs in, opens a case, checks the NiiVue viewer drew the label map in the grade colours
(pixels of the canvas screenshot, not just that a screenshot was taken), corrects a
level, enters a follow-up and sees the cohort dashboard change.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from tests.registry_helpers import postgres_url  # noqa: F401
from tests.web_helpers import PASSWORD, web  # noqa: F401

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIEWER = os.path.join(
    os.path.dirname(__file__), "..", "kypho", "web", "static", "vendor", "niivue.umd.js"
)


def _need_browser() -> None:
    missing = [
        what
        for what, ok in [
            ("chromium", os.path.exists(CHROMIUM)),
            ("niivue.umd.js", os.path.exists(VIEWER)),
        ]
        if not ok
    ]
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright")
    if missing:
        if os.environ.get("CI"):
            raise RuntimeError(f"{', '.join(missing)} missing: run `make deps-web`.")
        pytest.skip(f"{', '.join(missing)} not installed (make deps-web)")


@pytest.fixture
def server(web):  # noqa: F811
    app, sid, _ = web
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", sid
    srv.should_exit = True
    thread.join(timeout=10)


def _colour_masks(png: bytes) -> dict[str, np.ndarray]:
    """Pixels of each grade colour (#4caf50, #ff9800, #f44336) blended over the grey CT."""
    from matplotlib.image import imread

    img = (imread(io.BytesIO(png))[..., :3] * 255).astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return {
        "green": (g > r + 30) & (g > b + 30),  # grade 0
        "orange": (r > b + 80) & (g > b + 40) & (r > g + 20),  # grade 2
        "red": (r > g + 50) & (r > b + 50) & (abs(g - b) < 30),  # grade 3
        "blue": (b > r + 60) & (b > g + 60),  # height lines and trajectories
    }


def _centre_row(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[0].mean())


@pytest.mark.parametrize("web", ["sqlite"], indirect=True)
def test_browser_login_view_correct_followup(server):
    _need_browser()
    from playwright.sync_api import sync_playwright

    base, sid = server
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        if os.environ.get("KYPHO_SCREENSHOT"):
            page.on("console", lambda m: print("console:", m.type, m.text))
            page.on("pageerror", lambda e: print("pageerror:", e))
        page.goto(base + "/cases")
        assert page.url.endswith("/login")
        page.fill("input[name=username]", "clinician")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login")
        page.wait_for_url(base + "/cases")
        page.click(f"a[href='/cases/{sid}']")
        page.wait_for_selector("#viewer[data-ready='1']", timeout=30000)
        page.wait_for_timeout(500)
        legend = page.inner_text("#legend")
        assert "L1: grade 3" in legend and "T12: grade 2" in legend
        shot = page.locator("#viewer").screenshot()
        if os.environ.get("KYPHO_SCREENSHOT"):
            with open(os.environ["KYPHO_SCREENSHOT"], "wb") as f:
                f.write(shot)
        masks = _colour_masks(shot)
        counts = {k: int(v.sum()) for k, v in masks.items()}
        # The label map is drawn over the CT in the grade colours: six grade-0 bodies in
        # green, T12 (grade 2) orange, L1 (grade 3) red, and on the sagittal view T12 lies
        # above L1 (superior up).
        assert counts["green"] > 1000 and counts["orange"] > 200 and counts["red"] > 200, counts
        assert counts["green"] > 3 * counts["orange"]
        assert _centre_row(masks["orange"]) < _centre_row(masks["red"])
        # The 24 height lines (8 vertebrae x 3) are drawn in blue over the bodies.
        assert counts["blue"] > 100, counts
        # Correct L1's grade in the findings table (renaming it L2 would leave two L2).
        row = page.locator("#findings tr", has_text="crush")
        row.locator("select[name=grade]").select_option("1")
        row.locator("button").click()
        page.wait_for_selector("text=(was 3)")
        # Enter a baseline follow-up and see the dashboard count it.
        page.goto(base + "/cohort")
        assert "0 instrument responses" in page.inner_text("#cohort-counts")
        page.goto(base + f"/cases/{sid}")
        page.fill("#visit-form input[name=nrs]", "8")
        page.click("#save-visit")
        page.wait_for_url(base + f"/cases/{sid}")
        page.goto(base + "/cohort")
        assert "1 instrument responses" in page.inner_text("#cohort-counts")
        browser.close()
