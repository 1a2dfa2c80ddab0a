"""End to end in a real browser: Playwright driving Debian's Chromium against `kypho.web`.

Logs in, opens a case, checks the NiiVue viewer drew the label map in the grade colours
(pixels of the canvas screenshot, not just that a screenshot was taken), corrects a
level, enters a follow-up and sees the cohort dashboard change.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import threading
import time

import numpy as np
import pytest

from tests.ports import free_port
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


@contextlib.contextmanager
def _serving(app):  # type: ignore[no-untyped-def]
    """Serve ``app`` with uvicorn on a free loopback port; yields the base URL."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(web):  # noqa: F811
    app, sid, _ = web
    with _serving(app) as base:
        yield base, sid


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


@pytest.fixture
def phantom_server(tmp_path):
    """A served registry holding one real analysis of a 0.8 x 0.8 x 1 mm phantom CT."""
    from kypho.registry.db import open_registry
    from kypho.registry.store import add_patient, register_analysis
    from kypho.web.app import AppConfig, create_app
    from kypho.web.security import add_user
    from tests.web_helpers import write_phantom_case

    folder = write_phantom_case(tmp_path / "imports" / "case", (0.8, 0.8, 1.0))
    registry = open_registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    with registry.session("setup") as s:
        add_user(s, "clinician", PASSWORD, "clinician")
        sid = register_analysis(s, add_patient(s, "P-8"), folder).id
    app = create_app(registry, AppConfig(data_dir=tmp_path / "data", run_jobs=False))
    with _serving(app) as base:
        yield base, sid, tmp_path / "data" / "display" / str(sid)
    registry.dispose()


def _predicted_axial(display: str, centre_mm: list[float]) -> tuple[np.ndarray, np.ndarray,
                                                                   float]:
    """L1's and the balloon's voxels on the axial display slice through ``centre_mm``.

    Read from the files the server gave the viewer (labels, shapes), in world x/y mm.
    """
    import nibabel as nib

    labels = nib.load(os.path.join(display, "labels.nii.gz"))
    shapes = np.asarray(nib.load(os.path.join(display, "shapes.nii.gz")).dataobj)
    k = int(np.rint((np.linalg.inv(labels.affine) @ [*centre_mm, 1])[2]))
    lab = np.asarray(labels.dataobj)[:, :, k]
    sh = shapes[:, :, k]

    def world(mask: np.ndarray) -> np.ndarray:
        ij = np.argwhere(mask)
        return (labels.affine @ np.c_[ij, np.full(len(ij), k), np.ones(len(ij))].T)[:2].T

    balloon_value = sh[tuple(np.rint(np.linalg.inv(labels.affine) @ [*centre_mm, 1])[:2]
                             .astype(int))]
    assert balloon_value > 1
    voxel_mm2 = float(np.prod(np.linalg.norm(labels.affine[:3, :2], axis=0)))
    return world(lab == 20), world(sh == balloon_value), voxel_mm2


def test_browser_viewer_draws_balloons_and_paths_on_a_realistic_ct(phantom_server):
    _need_browser()
    from playwright.sync_api import sync_playwright

    base, sid, display = phantom_server
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(base + "/login")
        page.fill("input[name=username]", "clinician")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login")
        page.wait_for_url(base + "/cases")
        t = time.perf_counter()
        page.goto(base + f"/cases/{sid}")
        # The full CT (372 x 299 x 102) is served decimated; the page must be usable soon.
        page.wait_for_selector("#viewer[data-ready='1']", timeout=60000)
        print(f"viewer ready after {time.perf_counter() - t:.1f} s")
        item = page.locator("#legend li.shape", has_text="L1 right balloon")
        centre = [float(v) for v in item.get_attribute("data-centre").split(",")]
        item.click()
        page.click("button[data-slice='0']")  # axial, through the balloon's centre
        page.wait_for_timeout(500)
        shot = page.locator("#viewer").screenshot()
        if os.environ.get("KYPHO_SCREENSHOT"):
            with open(os.environ["KYPHO_SCREENSHOT"] + ".axial.png", "wb") as f:
                f.write(shot)
        browser.close()
    from matplotlib.image import imread

    img = (imread(io.BytesIO(shot))[..., :3] * 255).astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    magenta = (r > 150) & (b > 150) & (g < 100)
    cyan = (g > 150) & (b > 150) & (r < 100)
    body = _colour_masks(shot)["orange"] | magenta | cyan  # L1 (grade 2) under the shapes
    assert magenta.sum() > 200 and cyan.sum() > 10, (magenta.sum(), cyan.sum())
    # Where the balloons should be: the L1 slice's world box mapped onto L1's pixels
    # (screen right = patient right, +x; up = anterior, +y), then the right balloon's
    # cross-section from the shapes file, its centre and area compared with the pixels.
    l1_mm, balloon_mm, voxel_mm2 = _predicted_axial(str(display), centre)
    rows, cols = np.nonzero(body)
    (x0, y0), (x1, y1) = l1_mm.min(axis=0), l1_mm.max(axis=0)
    sx = (cols.max() - cols.min()) / (x1 - x0)
    sy = (rows.max() - rows.min()) / (y1 - y0)
    assert abs(sx / sy - 1) < 0.1, (sx, sy)  # square pixels: the mapping is consistent
    pred_col = cols.min() + (balloon_mm[:, 0].mean() - x0) * sx
    pred_row = rows.min() + (y1 - balloon_mm[:, 1].mean()) * sy
    right = magenta & (np.arange(img.shape[1])[None, :] > cols.min() + (0 - x0) * sx)
    mr, mc = np.nonzero(right)
    assert abs(mc.mean() - pred_col) < 0.08 * (cols.max() - cols.min()), (mc.mean(), pred_col)
    assert abs(mr.mean() - pred_row) < 0.08 * (rows.max() - rows.min()), (mr.mean(), pred_row)
    predicted_px = len(balloon_mm) * voxel_mm2 * sx * sy
    assert 0.6 < right.sum() / predicted_px < 1.5, (right.sum(), predicted_px)
