// kypho slice viewer: the CT with the vertebra label map coloured by Genant grade.
// Uses NiiVue (static/vendor/niivue.umd.js, fetched from npm by `make deps-web`).
/* global niivue */
async function kyphoViewer(studyId, levels, overlay) {
  const legend = document.getElementById("legend");
  const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  levels.sort((a, b) => a.label - b.label);
  for (const l of levels) {
    const li = document.createElement("li");
    li.dataset.label = l.label;
    li.innerHTML = `<span style="background:${l.colour}"></span>`;
    li.append(`${l.level}: grade ${l.grade === null ? "n/m" : l.grade}${l.excluded ? " (excluded)" : ""}`);
    legend.append(li);
  }
  // Cyan crosshair: red, orange and green are the grade colours.
  const nv = new niivue.Niivue({
    backColor: [0, 0, 0, 1], crosshairColor: [0, 0.9, 0.9, 1], dragAndDropEnabled: false,
  });
  window.kyphoNv = nv;
  await nv.attachTo("viewer");
  nv.onLocationChange = (d) => { document.getElementById("hover").textContent = d.string; };
  await nv.loadVolumes([
    { url: `/cases/${studyId}/files/ct`, name: "ct.nii.gz", colormap: "gray", cal_min: -250, cal_max: 1250 },
    { url: `/cases/${studyId}/files/labels`, name: "labels.nii.gz", opacity: 0.45 },
  ]);
  // One LUT entry per VerSe label: its grade colour and its level name (shown on hover).
  const lut = { R: [0], G: [0], B: [0], A: [0], I: [0], labels: [""] };
  for (const l of levels) {
    const [r, g, b] = hex(l.colour);
    lut.R.push(r); lut.G.push(g); lut.B.push(b); lut.A.push(255); lut.I.push(l.label);
    lut.labels.push(`${l.level} grade ${l.grade === null ? "n/m" : l.grade}`);
  }
  nv.volumes[1].setColormapLabel(lut);
  nv.setInterpolation(true); // nearest neighbour: label edges stay sharp
  if (overlay && overlay.nodes.length) {
    // Height lines, trajectories and balloon centres as a NiiVue connectome (world mm).
    const n = overlay.nodes.length;
    const edges = new Array(n * n).fill(0);
    for (const [a, b, value] of overlay.edges) { edges[a * n + b] = value; edges[b * n + a] = value; }
    await nv.loadConnectome({
      name: "kypho", nodeColormap: "blue", nodeColormapNegative: "blue", nodeMinColor: 0,
      nodeMaxColor: 1, nodeScale: 1, edgeColormap: "blue", edgeColormapNegative: "blue",
      edgeMin: 0, edgeMax: 1, edgeScale: 1,
      nodes: {
        names: overlay.names, X: overlay.nodes.map((p) => p[0]), Y: overlay.nodes.map((p) => p[1]),
        Z: overlay.nodes.map((p) => p[2]), Color: overlay.sizes.map(() => 1), Size: overlay.sizes,
      },
      edges,
    });
    // Draw the lines on 2D slices within 20 mm of the slice shown.
    nv.opts.meshThicknessOn2D = 20;
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
  document.getElementById("viewer").dataset.ready = "1";
}
