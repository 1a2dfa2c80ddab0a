"""How long the case page's NiiVue viewer takes to draw a CT in headless Chromium.

Registers an analysis folder (default: a fresh ``kypho demo`` output) in a temporary
registry, serves the web app on loopback, logs in with Playwright driving Debian's
Chromium (SwiftShader WebGL2, as in the browser test) and times the case page from
navigation to the viewer's ``data-ready`` flag; then counts balloon-coloured pixels in
the canvas. Prints the CT grid, the display grid the viewer was served, and the times.

    .venv/bin/python benchmarks/viewer.py [--folder OUT] [--repeats 3] [--timeout 120]
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def _serve(app):  # type: ignore[no-untyped-def]
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return srv, f"http://127.0.0.1:{port}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, help="an analysis folder (default: run kypho demo)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--screenshot", type=Path)
    ap.add_argument("--verbose", action="store_true", help="print every console message")
    ap.add_argument("--new-page", action="store_true", help="a fresh tab for each repeat")
    args = ap.parse_args()

    import numpy as np
    from matplotlib.image import imread
    from playwright.sync_api import sync_playwright

    from kypho.registry.db import open_registry
    from kypho.registry.store import add_patient, register_analysis
    from kypho.web.app import AppConfig, create_app
    from kypho.web.security import add_user

    tmp = Path(tempfile.mkdtemp(prefix="kypho-viewer-"))
    folder = args.folder
    if folder is None:
        folder = tmp / "demo"
        subprocess.run([sys.executable, "-m", "kypho", "demo", str(folder)], check=True,
                       stdout=subprocess.DEVNULL)
    doc = json.loads((folder / "results.json").read_text())
    print(f"CT {doc['input']['source']}: {doc['input']['shape']} voxels")
    registry = open_registry(f"sqlite:///{tmp / 'r.sqlite'}")
    with registry.session("bench") as s:
        add_user(s, "clinician", "benchmark password", "clinician")
        sid = register_analysis(s, add_patient(s, "BENCH"), folder).id
    app = create_app(registry, AppConfig(data_dir=tmp / "data", run_jobs=False))
    srv, base = _serve(app)
    times: list[float] = []
    in_page: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 1000})
        page = context.new_page()
        t_start = time.perf_counter()
        page.on("console", lambda m: print(f"console {time.perf_counter() - t_start:6.1f} s:",
                                           m.type, m.text[:200]) if args.verbose
                or m.type in ("error", "warning") else None)
        page.goto(base + "/login")
        page.fill("input[name=username]", "clinician")
        page.fill("input[name=password]", "benchmark password")
        page.click("#login")
        page.wait_for_url(base + "/cases")
        for i in range(args.repeats):
            if i and args.new_page:
                page.close()
                page = context.new_page()
            t = time.perf_counter()
            page.goto(base + f"/cases/{sid}")
            page.wait_for_selector("#viewer[data-ready='1']", timeout=args.timeout * 1000)
            times.append(time.perf_counter() - t)
            in_page.append(float(page.get_attribute("#viewer", "data-load-ms")) / 1000)
        info = page.evaluate("""() => {
            const nv = window.kyphoNv, gl = nv.gl, t = [];
            for (let i = 0; i < 3; i++) {
                const t0 = performance.now(); nv.drawScene(); gl.finish();
                t.push(performance.now() - t0);
            }
            const dims = nv.volumes.map((v) => v.hdr.dims.slice(1, 4).join("x"));
            return {draw_ms: t.map((x) => Math.round(x)), volumes: dims,
                    meshes: nv.meshes.length};
        }""")
        # The first balloon in the legend, on the axial slice through its centre.
        balloon = page.locator("#legend li.shape[data-kind=balloon]").first
        if balloon.count():
            balloon.click()
            page.click("button[data-slice='0']")
            page.wait_for_timeout(500)
        shot = page.locator("#viewer").screenshot()
        if args.screenshot:
            args.screenshot.write_bytes(shot)
        browser.close()
    srv.should_exit = True
    img = (imread(io.BytesIO(shot))[..., :3] * 255).astype(int)
    magenta = (img[..., 0] > 150) & (img[..., 2] > 150) & (img[..., 1] < 100)
    print(f"viewer info: {info}")
    print("page to viewer ready (s): " + ", ".join(f"{t:.2f}" for t in times)
          + f"; median {float(np.median(times)):.2f}")
    print("of which in the viewer script (s): " + ", ".join(f"{t:.2f}" for t in in_page))
    print(f"balloon-coloured pixels in the canvas: {int(magenta.sum())}")
    registry.dispose()


if __name__ == "__main__":
    main()
