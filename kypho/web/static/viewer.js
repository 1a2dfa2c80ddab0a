// kypho slice viewer: the CT with the vertebra label map coloured by Genant grade, and
// the plan's shapes (balloon ellipsoids, cannula paths, height lines) as a third label
// map rasterised by the server in world RAS mm on the same display grid.
// Uses NiiVue (static/vendor/niivue.umd.js, fetched from npm by `make deps-web`).
/* global niivue */
async function kyphoViewer(studyId, levels, shapes) {
  const legend = document.getElementById("legend");
  const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  const t0 = performance.now();
  levels.sort((a, b) => a.label - b.label);
  for (const l of levels) {
    const li = document.createElement("li");
    li.dataset.label = l.label;
    li.innerHTML = `<span style="background:${l.colour}"></span>`;
    li.append(`${l.level}: grade ${l.grade === null ? "n/m" : l.grade}${l.excluded ? " (excluded)" : ""}`);
    legend.append(li);
  }
  // White crosshair: green/yellow/orange/red are grades, blue/cyan/magenta the shapes.
  const nv = new niivue.Niivue({
    backColor: [0, 0, 0, 1], crosshairColor: [1, 1, 1, 0.8], dragAndDropEnabled: false,
  });
  window.kyphoNv = nv;
  await nv.attachTo("viewer");
  // Give the WebGL context back when the page goes: without this, every reload of the
  // case page in one tab left the old context alive and the next load took twice as long
  // in a software renderer (benchmarks/viewer.py: 12, 25, 50 s).
  window.addEventListener("pagehide", () => {
    const lose = nv.gl && nv.gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
  });
  nv.onLocationChange = (d) => { document.getElementById("hover").textContent = d.string; };
  const vols = [
    { url: `/cases/${studyId}/files/ct`, name: "ct.nii.gz", colormap: "gray", cal_min: -250, cal_max: 1250 },
    { url: `/cases/${studyId}/files/labels`, name: "labels.nii.gz", opacity: 0.45 },
  ];
  if (shapes.length) {
    vols.push({ url: `/cases/${studyId}/files/shapes`, name: "shapes.nii.gz", opacity: 1.0 });
  }
  await nv.loadVolumes(vols);
  // A label LUT: one entry per value, its colour and its name (shown on hover).
  const lutOf = (entries) => {
    const lut = { R: [0], G: [0], B: [0], A: [0], I: [0], labels: [""] };
    for (const e of entries) {
      const [r, g, b] = hex(e.colour);
      lut.R.push(r); lut.G.push(g); lut.B.push(b); lut.A.push(255); lut.I.push(e.value);
      lut.labels.push(e.name);
    }
    return lut;
  };
  nv.volumes[1].setColormapLabel(lutOf(levels.map((l) => ({
    value: l.label, colour: l.colour, name: `${l.level} grade ${l.grade === null ? "n/m" : l.grade}`,
  }))));
  if (shapes.length) {
    const seen = new Set();
    nv.volumes[2].setColormapLabel(lutOf(shapes.filter((s) => !seen.has(s.value) && seen.add(s.value))));
    // Clicking a balloon or trajectory in the legend moves the crosshair to it.
    for (const s of shapes.filter((x) => x.kind !== "height")) {
      const li = document.createElement("li");
      li.className = "shape";
      li.dataset.kind = s.kind;
      li.dataset.centre = s.centre_ras_mm.join(",");
      li.innerHTML = `<span style="background:${s.colour}"></span>`;
      li.append(s.name);
      li.addEventListener("click", () => {
        nv.scene.crosshairPos = nv.mm2frac(s.centre_ras_mm);
        nv.drawScene();
        nv.createOnLocationChange();
      });
      legend.append(li);
    }
  }
  nv.setInterpolation(true); // nearest neighbour: label edges stay sharp
  // Start on the spine's mid-sagittal plane (where the height lines lie), not the
  // middle of the field of view.
  const mids = shapes.filter((s) => s.kind === "height").map((s) => s.centre_ras_mm);
  if (mids.length) {
    const mean = [0, 1, 2].map((i) => mids.reduce((a, p) => a + p[i], 0) / mids.length);
    nv.scene.crosshairPos = nv.mm2frac(mean);
  }
  nv.setSliceType(nv.sliceTypeSagittal);
  nv.updateGLVolume();
  document.querySelectorAll("[data-slice]").forEach((b) =>
    b.addEventListener("click", () => nv.setSliceType(Number(b.dataset.slice))));
  document.querySelectorAll("[data-window]").forEach((b) =>
    b.addEventListener("click", () => {
      const [lo, hi] = b.dataset.window.split(",").map(Number);
      nv.volumes[0].cal_min = lo; nv.volumes[0].cal_max = hi; nv.updateGLVolume();
    }));
  const canvas = document.getElementById("viewer");
  canvas.dataset.loadMs = Math.round(performance.now() - t0);
  canvas.dataset.ready = "1";
}
