"""Reference numbering of the real chest CT (../shared/data/itkelastix_chest): derive, draw.

The levels come from counting ribs from the first (T1) rib; the counting and the hand
readings it rests on (disc planes in the mid-sagittal plane, one point per rib) are in
``reference/itkelastix_chest_readings.json`` and explained in docs/reference-numbering.md.

``--derive`` turns the readings into the reference: per vertebra its body between the two
disc planes (bone >= 100 HU inside an ellipse around the column, holes filled, the
largest 3-D component), the body centroid, the z range of the endplates at the disc
centre, the z extent of the body and whether the field of view cuts it; it writes
``reference/itkelastix_chest.json``. Without ``--derive`` it draws the figure
``docs/figures/itkelastix_chest_reference.png`` from that file.

    .venv/bin/python benchmarks/chest_reference_figure.py [--derive] [--out PNG]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from kypho import read_ct
from kypho.anatomy.levels import Level
from kypho.imaging.orientation import voxel_to_world, world_to_voxel
from kypho.imaging.volume import Volume
from kypho.imaging.write import atomic_write_bytes, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / ".." / "shared" / "data" / "itkelastix_chest"
READINGS = ROOT / "benchmarks" / "reference" / "itkelastix_chest_readings.json"
REFERENCE = ROOT / "benchmarks" / "reference" / "itkelastix_chest.json"
FIGURE = ROOT / "docs" / "figures" / "itkelastix_chest_reference.png"

#: Half the thickness of a thoracic disc at the disc centre: the endplates sit at the
#: bright rows 2 mm either side of the disc's HU minimum in this scan (one 2 mm slice).
HALF_DISC_MM = 2.0
#: Bone threshold for the body mask: trabecular bone here is 90-250 HU, paravertebral
#: muscle and disc 40-90 HU (read on the profiles along the column).
BODY_HU = 100.0
#: Half-axes of the ellipse around the column that holds one body (thoracic bodies are
#: 25-40 mm wide and 25-35 mm deep, DOMAIN.md §7.3); it keeps ribs and pedicles out.
BODY_HALF_WIDTH_MM = 20.0
BODY_HALF_DEPTH_MM = 16.0


def _plane_z(disc: dict, y: np.ndarray) -> np.ndarray:
    """z of a disc's mid-plane at world y (the plane is level from left to right)."""
    _, yc, zc = disc["centre_ras_mm"]
    return zc + disc["slope_dz_dy"] * (y - yc)


def _axis_at(discs: list[dict], z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column centre (x, y) at height z, interpolated between the disc centres."""
    c = np.array([d["centre_ras_mm"] for d in discs])[::-1]  # ascending z
    return np.interp(z, c[:, 2], c[:, 0]), np.interp(z, c[:, 2], c[:, 1])


def body_mask(volume: Volume, discs: list[dict], below: dict | None, above: dict | None
              ) -> np.ndarray:
    """Body of the vertebra between disc planes ``below`` and ``above`` (None: FOV edge)."""
    nx, ny, nz = volume.shape
    ii, jj, kk = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij",
                             sparse=True)
    aff = volume.affine  # canonical RAS without obliquity here: axes map one to one
    x = aff[0, 0] * ii + aff[0, 3]
    y = aff[1, 1] * jj + aff[1, 3]
    z = aff[2, 2] * kk + aff[2, 3]
    cx, cy = _axis_at(discs, z)
    inside = ((x - cx) / BODY_HALF_WIDTH_MM) ** 2 + ((y - cy) / BODY_HALF_DEPTH_MM) ** 2 <= 1
    slab = np.ones(volume.shape, bool)
    if below is not None:
        slab &= z >= _plane_z(below, y) + HALF_DISC_MM
    if above is not None:
        slab &= z <= _plane_z(above, y) - HALF_DISC_MM
    mask = inside & slab & (volume.hu >= BODY_HU)
    for k in range(nz):  # trabecular holes below the threshold belong to the body
        mask[:, :, k] = ndimage.binary_fill_holes(mask[:, :, k])
    lab, n = ndimage.label(mask)
    if n == 0:
        return mask
    return lab == 1 + int(np.argmax(ndimage.sum(mask, lab, range(1, n + 1))))


def _column_crop(volume: Volume, discs: list[dict]) -> Volume:
    """The box around the column that holds every body (for speed and memory)."""
    c = np.array([d["centre_ras_mm"] for d in discs])
    margin = np.array([BODY_HALF_WIDTH_MM, BODY_HALF_DEPTH_MM, 0.0]) + 5.0
    lo = np.floor(world_to_voxel(volume.affine, c.min(axis=0) - margin)).astype(int)
    hi = np.ceil(world_to_voxel(volume.affine, c.max(axis=0) + margin)).astype(int) + 1
    lo, hi = np.maximum(lo, 0), np.minimum(hi, volume.shape)
    hu = volume.hu[lo[0]:hi[0], lo[1]:hi[1], :]
    affine = volume.affine.copy()
    affine[:3, 3] = voxel_to_world(volume.affine, [lo[0], lo[1], 0])
    return Volume(hu, affine)


def derive(volume: Volume, readings: dict) -> list[dict]:
    """The reference document from the hand readings."""
    discs = readings["discs"]
    names = [discs[0]["between"][0]] + [d["between"][1] for d in discs]
    ribs = {r["vertebra"]: r for r in readings["ribs"]}
    z_lo = round(float(voxel_to_world(volume.affine, [0, 0, -0.5])[2]), 1)
    z_hi = round(float(voxel_to_world(volume.affine, [0, 0, volume.shape[2] - 0.5])[2]), 1)
    volume = _column_crop(volume, discs)
    rows = []
    for i, name in enumerate(names):
        above = discs[i - 1] if i > 0 else None
        below = discs[i] if i < len(discs) else None
        mask = body_mask(volume, discs, below, above)
        idx = np.argwhere(mask)
        world = voxel_to_world(volume.affine, idx)
        cut = above is None or below is None
        rib = ribs.get(name)
        z_superior = None if above is None else round(above["centre_ras_mm"][2] - HALF_DISC_MM, 1)
        z_inferior = None if below is None else round(below["centre_ras_mm"][2] + HALF_DISC_MM, 1)
        rows.append({
            "name": name,
            "label": int(Level.parse(name)),
            "superior_endplate_z_mm": z_superior,
            "inferior_endplate_z_mm": z_inferior,
            "z_range_mm": [z_lo if z_inferior is None else z_inferior,
                           z_hi if z_superior is None else z_superior],
            "body_z_extent_mm": [round(float(world[:, 2].min()) - 1, 1),
                                 round(float(world[:, 2].max()) + 1, 1)],
            "body_centroid_ras_mm": [round(float(v), 1) for v in world.mean(axis=0)],
            "body_volume_ml": round(len(idx) * float(np.prod(volume.spacing_mm)) / 1000, 1),
            "cut_by_fov": cut,
            "ribs": None if rib is None else rib["rib"],
            "evidence": _evidence(name, rib, cut),
        })
    return rows


def _evidence(name: str, rib: dict | None, cut: bool) -> str:
    if name == "C7":
        return ("no rib: the vertebra above the first rib's; no cervical rib on either side "
                "(transverse processes only); long single spinous process")
    if name == "C6":
        return ("lower body only, cut by the top of the field of view; uncinate lips and a "
                "bifid spinous process; named by counting up from T1")
    if rib is None:
        return ("upper few mm of the body below the T11/T12 disc, cut by the bottom of the "
                "field of view; its rib (12) lies below the field of view; named by counting "
                "down from T1")
    n = rib["rib"]
    if n == 1:
        return ("rib pair 1, head on the upper body just below the C7/T1 disc: the innermost "
                "arc of the thoracic inlet, under the clavicles, from this body to the "
                "manubrium")
    where = ("head on its own body only" if n in (10, 11, 12)
             else f"head at the T{n - 1}/T{n} disc, on the demifacets of both bodies")
    return f"rib pair {n}, counted from the first rib: {where}" + (
        "; cut by the field of view" if cut else "")


def _document(rows: list[dict], readings: dict, volume: Volume) -> dict:
    return {
        "schema": "kypho-reference-numbering/1",
        "case": "itkelastix_chest",
        "source": {
            "path": "../shared/data/itkelastix_chest/dicom",
            "origin": "ITKElastix examples/data/00 (github.com/InsightSoftwareConsortium/"
                      "ITKElastix), Philips Brilliance Big Bore 2007, anonymised, no contrast",
            "licence": "Apache-2.0, ../shared/data/itkelastix_chest/LICENSE-Apache-2.0.txt",
        },
        "coordinates": "world RAS mm as kypho.read_ct returns them (the DICOM LPS negated "
                       "in x and y)",
        "grid": {"shape": list(volume.shape), "spacing_mm": [round(s, 4) for s in
                                                              volume.spacing_mm]},
        "method": (
            "Counting ribs from the first rib (docs/reference-numbering.md). The first rib "
            "is the innermost arc of the thoracic inlet, under the clavicles, running from "
            "the vertebra to the manubrium; its head sits on the upper body of T1, just "
            "below the C7/T1 disc. Eleven rib pairs follow down to the last in view (11); "
            "ribs 2-9 meet the column at the discs, 10 and 11 on their own bodies. Discs "
            "were read in the curved mid-sagittal reformat and on HU profiles along the "
            "column; the bodies, centroids and extents were computed from those planes by "
            "benchmarks/chest_reference_figure.py --derive."
        ),
        "uncertainty": (
            "Level names: the first rib is unambiguous (it joins the manubrium and is the "
            "innermost inlet rib; C7 above it bears none), and the 11 rib pairs below it "
            "are consecutive with no gap, so T1-T11 are certain; C6, C7 and T12 follow by "
            "counting. Positions: disc centres +/- 1-3 mm (see each disc's "
            "uncertainty_mm; C6/C7 is the least certain, the top slices being noisy); "
            "centroids of the cut C6 and T12 are those of their visible parts."
        ),
        "fractures": "none seen on review: every Genant grade >= 1 here is a false positive",
        "z_range_note": (
            "z_range_mm: inferior and superior endplate z at the disc centre (midline, "
            "mid-depth of the body); for a cut vertebra the edge of the field of view. "
            "body_z_extent_mm: lowest and highest z of the body mask (tilted upper discs "
            "make it larger)."
        ),
        "vertebrae": rows,
        "readings": readings,
    }


def _curved_sagittal(volume: Volume, discs: list[dict]) -> tuple[np.ndarray, list[float]]:
    """Mid-sagittal reformat following the column's x, mean of 5 columns (about 5 mm)."""
    nz = volume.shape[2]
    z = voxel_to_world(volume.affine, np.c_[np.zeros(nz), np.zeros(nz), np.arange(nz)])[:, 2]
    cx, _ = _axis_at(discs, z)
    ix = np.rint(world_to_voxel(volume.affine, np.c_[cx, np.zeros(nz), z])[:, 0]).astype(int)
    img = np.stack([volume.hu[i - 2:i + 3, :, k].mean(axis=0) for k, i in enumerate(ix)], 1)
    aff = volume.affine
    extent = [aff[1, 3] - aff[1, 1] / 2, aff[1, 3] + aff[1, 1] * (volume.shape[1] - 0.5),
              z[0] - aff[2, 2] / 2, z[-1] + aff[2, 2] / 2]
    return img, extent


def _outline() -> list:
    """A dark outline that keeps labels readable over bright bone."""
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=2, foreground="black")]


def _panel_sagittal(ax, volume: Volume, ref: dict) -> list[float]:  # type: ignore[no-untyped-def]
    """Curved mid-sagittal reformat with the disc planes and the names; its extent."""
    discs = ref["readings"]["discs"]
    img, ext = _curved_sagittal(volume, discs)
    ax.imshow(np.clip(img.T, -150, 900), cmap="gray", origin="lower", extent=ext, aspect=1)
    for d in discs:
        y = np.array([-15.0, 15.0]) + d["centre_ras_mm"][1]
        ax.plot(y, _plane_z(d, y), color="#00d0ff", lw=1)
    for r in ref["vertebrae"]:
        cy, cz = r["body_centroid_ras_mm"][1:]
        color = "#ffb000" if r["cut_by_fov"] else "#ffff40"
        ax.text(cy + 20, cz, r["name"] + (" (cut)" if r["cut_by_fov"] else ""), color=color,
                fontsize=8, va="center", fontweight="bold", path_effects=_outline())
    ax.set_xlim(-175, -40)
    ax.set_ylim(ext[2], ext[3])
    ax.set_title("mid-sagittal reformat along the column\n(anterior right; discs cyan)", fontsize=9)
    ax.set_xlabel("y (RAS mm)", fontsize=8)
    ax.set_ylabel("z (RAS mm)", fontsize=8)
    return ext


def _panel_ribs(ax, volume: Volume, ref: dict, zlim: tuple[float, float]) -> None:  # type: ignore[no-untyped-def]
    """Coronal MIP of the slab behind the bodies, rib pairs numbered at the column."""
    aff = volume.affine
    j0, j1 = (round(float(world_to_voxel(aff, [0, y, 0])[1])) for y in (-170.0, -100.0))
    mip = volume.hu[:, j0:j1, :].max(axis=1)
    ext = [aff[0, 3] - aff[0, 0] / 2, aff[0, 3] + aff[0, 0] * (volume.shape[0] - 0.5), *zlim]
    ax.imshow(np.clip(mip.T, 0, 1300), cmap="gray", origin="lower", extent=ext, aspect=1)
    for rib in ref["readings"]["ribs"]:
        for key, dx in (("right_ras_mm", -1), ("left_ras_mm", 1)):
            x, _, z = rib[key]
            ax.annotate(str(rib["rib"]), (x, z), (x + dx * 42, z + 4), color="#ff6060",
                        fontsize=8, fontweight="bold", ha="center", va="center",
                        path_effects=_outline(),
                        arrowprops={"arrowstyle": "-", "color": "#ff6060", "lw": 0.7})
    for r in ref["vertebrae"]:
        cx, _, cz = r["body_centroid_ras_mm"]
        ax.text(cx, cz, r["name"], color="#ffff40", fontsize=7, ha="center", va="center",
                fontweight="bold", path_effects=_outline())
    ax.set_xlim(-150, 165)
    ax.set_ylim(*zlim)
    ax.set_title("coronal MIP, slab y -170..-100 mm (patient right on the left)\n"
                 "rib pairs 1-11 (red) at the column, vertebrae (yellow)", fontsize=9)
    ax.set_xlabel("x (RAS mm)", fontsize=8)


def _panel_inlet(ax, volume: Volume, ref: dict) -> None:  # type: ignore[no-untyped-def]
    """The thoracic inlet from above: the first rib ring, T1 to the manubrium."""
    aff = volume.affine
    k0, k1 = (round(float(world_to_voxel(aff, [0, 0, z])[2])) for z in (64.0, 92.0))
    top = volume.hu[:, :, k0:k1 + 1].max(axis=2)
    ext = [aff[0, 3] - aff[0, 0] / 2, aff[0, 3] + aff[0, 0] * (volume.shape[0] - 0.5),
           aff[1, 3] - aff[1, 1] / 2, aff[1, 3] + aff[1, 1] * (volume.shape[1] - 0.5)]
    ax.imshow(np.clip(top.T, 0, 1300), cmap="gray", origin="lower", extent=ext, aspect=1)
    r1 = ref["readings"]["ribs"][0]
    for key in ("right_ras_mm", "left_ras_mm"):
        x, y, _ = r1[key]
        ax.annotate("rib 1", (x, y), (x + np.sign(x - 8) * 45, y - 35), color="#ff6060",
                    fontsize=8, fontweight="bold", ha="center", path_effects=_outline(),
                    arrowprops={"arrowstyle": "->", "color": "#ff6060", "lw": 0.8})
    ax.text(8, 12, "manubrium", color="#ffff40", fontsize=8, ha="center", path_effects=_outline())
    ax.set_xlim(-110, 125)
    ax.set_ylim(-175, 40)
    ax.set_title("axial MIP z 64..92 mm from above (anterior up):\n"
                 "first ribs from T1 to the manubrium, under the clavicles", fontsize=9)
    ax.set_xlabel("x (RAS mm)", fontsize=8)


def _small_png(png: bytes) -> bytes:
    """The figure on a palette of 120 greys plus the annotation colours: under 500 kB at
    a readable size (CT noise defeats PNG compression of full RGB)."""
    import io

    from PIL import Image

    colours = [(255, 255, 64), (255, 176, 0), (255, 96, 96), (0, 208, 255)]
    greys = [(round(g), round(g), round(g)) for g in np.linspace(0, 255, 120)]
    pal = Image.new("P", (1, 1))
    pal.putpalette([c for rgb in greys + colours for c in rgb])
    out = io.BytesIO()
    rgb = Image.open(io.BytesIO(png)).convert("RGB")
    rgb.quantize(palette=pal, dither=Image.Dither.NONE).save(out, format="PNG", optimize=True)
    return out.getvalue()


def draw(volume: Volume, ref: dict, out: Path) -> None:
    """Sagittal reformat with discs and names, posterior coronal slab with rib numbers,
    and the thoracic inlet seen from above with the first rib."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 8.6), gridspec_kw={"width_ratios": [1, 1.9, 1.15]})
    ext = _panel_sagittal(axes[0], volume, ref)
    _panel_ribs(axes[1], volume, ref, (ext[2], ext[3]))
    _panel_inlet(axes[2], volume, ref)
    for a in axes:
        a.tick_params(labelsize=7)
    fig.suptitle("itkelastix_chest: reference numbering by counting ribs from the first (T1). "
                 "Data: ITKElastix examples/data/00, Apache-2.0 (../shared/data/itkelastix_chest)",
                 fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(out, _small_png(buf.getvalue()), overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--derive", action="store_true",
                        help="recompute reference/itkelastix_chest.json from the readings")
    parser.add_argument("--out", type=Path, default=FIGURE, help="figure path")
    args = parser.parse_args()
    volume = read_ct(CASE / "dicom")
    if args.derive:
        readings = json.loads(READINGS.read_text())
        doc = _document(derive(volume, readings), readings, volume)
        atomic_write_text(REFERENCE, json.dumps(doc, indent=1) + "\n", overwrite=True)
        for r in doc["vertebrae"]:
            print(f"{r['name']:>4} z {r['z_range_mm']} extent {r['body_z_extent_mm']} "
                  f"centroid {r['body_centroid_ras_mm']} {r['body_volume_ml']} mL "
                  f"cut={r['cut_by_fov']} ribs={r['ribs']}")
        return
    draw(volume, json.loads(REFERENCE.read_text()), args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1000:.0f} kB)")


if __name__ == "__main__":
    main()
