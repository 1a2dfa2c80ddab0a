"""One vertebra resampled into its own frame (lr, ap, si) on an isotropic grid.

Planning works in the vertebra's frame (DESIGN.md, :class:`VertebraFrame`): "medial",
"anterior third" and "inferior pedicle wall" are then axis-aligned whatever the scanner
geometry (oblique, anisotropic, any stored orientation). Masks are resampled by nearest
neighbour, HU trilinearly, on a crop around the vertebra only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kypho.imaging.orientation import affine_spacing, voxel_to_world, world_to_voxel
from kypho.imaging.volume import LabelMap, Volume
from kypho.model import VertebraFrame

__all__ = ["LocalGrid", "build_local_grid"]

#: Grid step of the local resampling. 0.5 mm resolves a 3 mm cannula against 1 mm
#: clearances while keeping a whole vertebra to a few million samples.
DEFAULT_STEP_MM = 0.5
#: Context kept around the vertebra mask (soft tissue for density statistics).
CROP_MARGIN_MM = 6.0
#: Largest extent (mm) of a whole vertebra along any of its axes. Bodies are at most
#: 54 mm wide (L5, DOMAIN.md §7.3) and about 30 mm tall; with transverse and spinous
#: processes a lumbar vertebra spans about twice its body width and depth. 150 mm
#: holds any vertebra and caps the local grid at ~(162 / 0.5)^3 samples.
MAX_VERTEBRA_EXTENT_MM = 150.0


@dataclass(eq=False)
class LocalGrid:
    """A vertebra on an isotropic grid aligned with its frame.

    Attributes
    ----------
    frame : VertebraFrame
        Local x = lr (to patient right), y = ap (anterior), z = si (superior), mm.
    start_mm : (3,) ndarray
        Local coordinates of voxel (0, 0, 0).
    step_mm : float
        Isotropic grid step.
    vert, body : (NX, NY, NZ) ndarray of bool
        Whole-vertebra and body-only masks of this level.
    hu : (NX, NY, NZ) ndarray of float32
        CT values (HU), trilinear; NaN outside the scanned field of view.
    """

    frame: VertebraFrame
    start_mm: np.ndarray
    step_mm: float
    vert: np.ndarray
    body: np.ndarray
    hu: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.vert.shape  # type: ignore[return-value]

    def axis_mm(self, axis: int) -> np.ndarray:
        """Local coordinate (mm) of each grid index along `axis` (0 lr, 1 ap, 2 si)."""
        return self.start_mm[axis] + self.step_mm * np.arange(self.shape[axis])

    def to_index(self, points_local_mm: np.ndarray) -> np.ndarray:
        """Local mm (..., 3) -> fractional grid indices (..., 3)."""
        return (np.asarray(points_local_mm, float) - self.start_mm) / self.step_mm

    def lookup(self, mask: np.ndarray, points_local_mm: np.ndarray) -> np.ndarray:
        """Nearest-voxel value of a boolean grid at local points (..., 3); False outside."""
        idx = np.rint(self.to_index(points_local_mm)).astype(np.int64)
        inside = np.all((idx >= 0) & (idx < np.array(self.shape)), axis=-1)
        out = np.zeros(idx.shape[:-1], dtype=bool)
        ii = idx[inside]
        out[inside] = mask[ii[:, 0], ii[:, 1], ii[:, 2]]
        return out

    def to_world(self, points_local_mm: np.ndarray) -> np.ndarray:
        """Local mm (..., 3) -> world RAS mm (..., 3)."""
        return self.frame.to_world(points_local_mm)

    def direction_to_world(self, vec_local: np.ndarray) -> np.ndarray:
        """Rotate a local direction (..., 3) into world RAS."""
        return np.asarray(vec_local, float) @ self.frame.rotation()


def _label_crop(labels: LabelMap, label: int) -> tuple[tuple[slice, ...], np.ndarray]:
    box = labels.box(label)
    if box is None:
        raise ValueError(f"label {label} is absent from the label map")
    return box, labels.labels[box] == label


def _local_box(
    affine: np.ndarray, box: tuple[slice, ...], mask: np.ndarray, frame: VertebraFrame,
    step_mm: float,
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Local start (mm) and shape of the grid around a vertebra mask cropped to `box`.

    Raises
    ------
    ValueError
        When the mask spans more than any vertebra (:data:`MAX_VERTEBRA_EXTENT_MM`).
    """
    # Bounding box of the vertebra in local coordinates, from its own voxels.
    ijk = np.argwhere(mask)
    if len(ijk) > 200_000:
        ijk = ijk[:: len(ijk) // 200_000 + 1]
    ijk = ijk + np.array([s.start for s in box])
    local = frame.to_local(voxel_to_world(affine, ijk))
    half_vox = 0.5 * max(affine_spacing(affine))
    extent = local.max(axis=0) - local.min(axis=0)
    if float(extent.max()) > MAX_VERTEBRA_EXTENT_MM:
        # The grid's cost grows with the cube of the extent: a mask this large holds more
        # than a vertebra (a vessel, the heart) and is not planned.
        raise ValueError(
            f"the vertebra mask spans {extent.max():.0f} mm, more than any vertebra "
            f"({MAX_VERTEBRA_EXTENT_MM:.0f} mm): not plannable"
        )
    lo = local.min(axis=0) - CROP_MARGIN_MM - half_vox
    hi = local.max(axis=0) + CROP_MARGIN_MM + half_vox
    n = np.ceil((hi - lo) / step_mm).astype(int) + 1
    return lo, tuple(int(v) for v in n)  # type: ignore[return-value]


def _coords(affine: np.ndarray, grid_to_world: np.ndarray, shape: tuple[int, int, int],
            offset: np.ndarray) -> list[np.ndarray]:
    """Voxel coordinates (of a map with `affine`, minus `offset`) of every grid point."""
    m = np.linalg.inv(affine) @ grid_to_world
    ii, jj, kk = (np.arange(v, dtype=np.float32) for v in shape)
    out = []
    for c in range(3):
        out.append(
            (m[c, 0] * ii)[:, None, None]
            + (m[c, 1] * jj)[None, :, None]
            + (m[c, 2] * kk)[None, None, :]
            + np.float32(m[c, 3] - offset[c])
        )
    return out


def _sample(arr: np.ndarray, affine: np.ndarray, grid_to_world: np.ndarray,
            shape: tuple[int, int, int], offset: np.ndarray, order: int,
            cval: float) -> np.ndarray:
    return ndimage.map_coordinates(
        arr, _coords(affine, grid_to_world, shape, offset), order=order, cval=cval,
        mode="constant",
    )


def _sample_hu(volume: Volume, grid_to_world: np.ndarray,
               shape: tuple[int, int, int]) -> np.ndarray:
    """CT values (trilinear) on the grid; NaN outside the scanned field of view."""
    # HU only over the crop's bounding box in the CT grid (plus one voxel for trilinear).
    corners = np.array(np.meshgrid(*[[0, v - 1] for v in shape], indexing="ij")).reshape(3, -1).T
    cw = corners @ grid_to_world[:3, :3].T + grid_to_world[:3, 3]
    vidx = world_to_voxel(volume.affine, cw)
    lo_v = np.maximum(np.floor(vidx.min(axis=0)).astype(int) - 1, 0)
    hi_v = np.minimum(np.ceil(vidx.max(axis=0)).astype(int) + 2, np.array(volume.shape))
    if np.any(hi_v <= lo_v):
        return np.full(shape, np.nan, dtype=np.float32)
    sub = volume.hu[lo_v[0]:hi_v[0], lo_v[1]:hi_v[1], lo_v[2]:hi_v[2]]
    return ndimage.map_coordinates(
        sub, _coords(volume.affine, grid_to_world, shape, lo_v.astype(float)), order=1,
        cval=np.nan, mode="constant",
    ).astype(np.float32)


def build_local_grid(
    volume: Volume,
    vertebrae: LabelMap,
    bodies: LabelMap,
    label: int,
    frame: VertebraFrame,
    step_mm: float = DEFAULT_STEP_MM,
) -> LocalGrid:
    """Resample one vertebra (masks and HU) into its own frame.

    Parameters
    ----------
    volume : Volume
        CT in HU, canonical RAS, any affine (oblique, anisotropic).
    vertebrae, bodies : LabelMap
        Whole-vertebra and body-only VerSe label maps (may use their own grid).
    label : int
        VerSe label of the vertebra.
    frame : VertebraFrame
        The vertebra's frame from the measurement stage.
    step_mm : float
        Isotropic step of the local grid.

    Returns
    -------
    LocalGrid

    Raises
    ------
    ValueError
        When the label is absent from `vertebrae` or `bodies`.
    """
    vsl, vmask = _label_crop(vertebrae, label)
    bsl, bmask = _label_crop(bodies, label)
    lo, shape = _local_box(vertebrae.affine, vsl, vmask, frame, step_mm)
    # Local grid index -> world is affine: compose it with each map's world -> voxel
    # affine and evaluate it separably (cheaper than transforming millions of points).
    grid_to_world = np.eye(4)
    grid_to_world[:3, :3] = frame.rotation().T * step_mm
    grid_to_world[:3, 3] = frame.to_world(lo)
    vert = _sample(vmask.astype(np.uint8), vertebrae.affine, grid_to_world, shape,
                   np.array([s.start for s in vsl], float), 0, 0).astype(bool)
    body = _sample(bmask.astype(np.uint8), bodies.affine, grid_to_world, shape,
                   np.array([s.start for s in bsl], float), 0, 0).astype(bool)
    hu = _sample_hu(volume, grid_to_world, shape)
    return LocalGrid(
        frame=frame,
        start_mm=lo.astype(float),
        step_mm=float(step_mm),
        # The body belongs to the vertebra even where the two label maps disagree.
        vert=vert | body,
        body=body,
        hu=hu,
    )
