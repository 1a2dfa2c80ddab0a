"""One vertebra's region of the CT: its crop, and that crop resampled in its own frame.

Measurement and planning read the same voxels of a vertebra. This module makes that
region once, in one way:

* :func:`crop_vertebra` crops the CT and label maps to the vertebra's bounding box plus
  :data:`CROP_MARGIN_MM` (a :class:`VertebraCrop`, native voxels, world affine kept);
  measurement works on it directly (:mod:`kypho.measure.sampling` samples it along the
  frame);
* :func:`frame_grid` resamples a crop onto an isotropic grid aligned with the vertebra's
  frame (a :class:`~kypho.measure.local_grid.LocalGrid`): the vertebra plus the
  soft-tissue shell around it (:data:`SOFT_TISSUE_SHELL_MM`), which the plan and the
  simulation read. The frame is the one the measurement estimated
  (:attr:`~kypho.model.VertebraMeasurement.frame`).

Planning works in the vertebra's frame (DESIGN.md, :class:`VertebraFrame`): "medial",
"anterior third" and "inferior pedicle wall" are then axis-aligned whatever the scanner
geometry (oblique, anisotropic, any stored orientation). Masks are resampled by nearest
neighbour, HU trilinearly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from kypho.imaging.orientation import affine_spacing, voxel_to_world
from kypho.imaging.volume import LabelMap, Volume
from kypho.measure.local_grid import LocalGrid, grid_to_world, sample_crop
from kypho.model import VertebraFrame

__all__ = [
    "CROP_MARGIN_MM",
    "GRID_STEP_MM",
    "MAX_VERTEBRA_EXTENT_MM",
    "SOFT_TISSUE_SHELL_MM",
    "VertebraCrop",
    "build_local_grid",
    "crop_vertebra",
    "frame_grid",
    "label_crop",
]

#: Margin kept around a vertebra's bounding box when cropping (mm): room for the disc
#: spaces above and below (lumbar discs are ~10 mm high), needed by the HU edge
#: refinement of the endplates, and for the soft-tissue shell.
CROP_MARGIN_MM = 12.0
#: Soft tissue next to the vertebra, as distances from its mask (mm): from 1 mm (clear
#: of the partial-volume rim of the cortex, about one CT voxel) to 6 mm (paravertebral
#: muscle, disc, ligaments and canal contents that touch the bone). The plan's
#: soft-tissue level is read in this shell (other vertebrae left out), so it does not
#: depend on how much of the CT a crop or grid happens to hold.
SOFT_TISSUE_SHELL_MM = (1.0, 6.0)
#: Grid step of the frame resampling. 0.5 mm resolves a 3 mm cannula against 1 mm
#: clearances while keeping a whole vertebra to a few million samples.
GRID_STEP_MM = 0.5
#: Largest extent (mm) of a whole vertebra along any of its axes. Bodies are at most
#: 54 mm wide (L5, DOMAIN.md §7.3) and about 30 mm tall; with transverse and spinous
#: processes a lumbar vertebra spans about twice its body width and depth. 150 mm
#: holds any vertebra and caps the local grid at ~(162 / 0.5)^3 samples.
MAX_VERTEBRA_EXTENT_MM = 150.0

@dataclass(eq=False)
class VertebraCrop:
    """The voxels around one vertebra.

    Attributes
    ----------
    body : (x, y, z) ndarray of bool
        Vertebral body mask.
    vertebra : (x, y, z) ndarray of bool
        Whole-vertebra mask (body and posterior elements).
    hu : (x, y, z) ndarray of float32
        CT values in HU.
    affine : (4, 4) ndarray
        Crop voxel index -> world RAS mm.
    touches_edge : bool
        True when the body mask reaches the border of the full volume.
    others : (x, y, z) ndarray of bool
        Voxels of any other labelled vertebra (its neighbours' bone), or None.
    cement_free_hu : (x, y, z) ndarray of float32, optional
        ``hu`` with the body's cement at its trabecular level
        (:func:`kypho.measure.cement.cement_as_bone`); None when it holds no cement.
    """

    body: np.ndarray
    vertebra: np.ndarray
    hu: np.ndarray
    affine: np.ndarray
    touches_edge: bool
    others: np.ndarray | None = None
    cement_free_hu: np.ndarray | None = None
    _points: np.ndarray | None = field(default=None, init=False, repr=False)
    _surface: np.ndarray | None = field(default=None, init=False, repr=False)
    _vertebra_surface: np.ndarray | None = field(default=None, init=False, repr=False)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return affine_spacing(self.affine)

    @property
    def endplate_hu(self) -> np.ndarray:
        """CT values the endplates are read on: ``cement_free_hu`` if set, else ``hu``."""
        return self.hu if self.cement_free_hu is None else self.cement_free_hu

    @property
    def voxel_volume_ml(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3]))) / 1000.0

    def body_points_world(self) -> np.ndarray:
        """(N, 3) world RAS mm of the body voxel centres (computed once per crop)."""
        if self._points is None:
            self._points = voxel_to_world(self.affine, np.argwhere(self.body))
        return self._points

    def body_surface_world(self) -> np.ndarray:
        """(M, 3) world RAS mm of the body voxels with a face neighbour outside the body.

        Extents of the body along any direction are reached on its surface, so local
        grids are sized from these few points rather than from the whole body.
        """
        if self._surface is None:
            self._surface = _surface_world(self.body, self.affine)
        return self._surface

    def vertebra_surface_world(self) -> np.ndarray:
        """(M, 3) world RAS mm of the whole vertebra's surface voxels (computed once)."""
        if self._vertebra_surface is None:
            self._vertebra_surface = _surface_world(self.vertebra, self.affine)
        return self._vertebra_surface


def _surface_world(mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World RAS mm of the mask voxels with a face neighbour outside the mask.

    The largest value of any linear function over the mask's voxel centres is reached on
    one of these, so extents along any direction need only them.
    """
    inner = ndimage.binary_erosion(mask, border_value=0)
    return voxel_to_world(affine, np.argwhere(mask & ~inner))


def crop_vertebra(
    hu: np.ndarray,
    vertebrae: np.ndarray,
    bodies: np.ndarray,
    affine: np.ndarray,
    label: int,
    bbox: tuple[slice, slice, slice] | None = None,
) -> VertebraCrop | None:
    """Crop the volume around one vertebra, with a margin of :data:`CROP_MARGIN_MM`.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float32
    vertebrae, bodies : (X, Y, Z) ndarray of uint8
        VerSe label maps on the same grid.
    affine : (4, 4) ndarray
    label : int
        VerSe label of the vertebra.
    bbox : tuple of slice, optional
        Bounding box of ``vertebrae == label`` if already known (from
        :func:`scipy.ndimage.find_objects`), to avoid a full-volume search.

    Returns
    -------
    VertebraCrop or None
        None when the label has no voxel.
    """
    if bbox is None:
        found = ndimage.find_objects(((vertebrae == label) | (bodies == label)).astype(np.uint8))
        if not found or found[0] is None:
            return None
        bbox = found[0]
    spacing = np.asarray(affine_spacing(affine))
    margin = np.ceil(CROP_MARGIN_MM / spacing).astype(int)
    shape = hu.shape
    sl = tuple(
        slice(max(0, s.start - m), min(n, s.stop + m))
        for s, m, n in zip(bbox, margin, shape, strict=True)
    )
    body = bodies[sl] == label
    vert_labels = vertebrae[sl]
    vert = (vert_labels == label) | body
    # The body reaching the last voxel of the volume means part of it may be missing.
    touches = False
    if body.any():
        idx = np.argwhere(body)
        lo = idx.min(axis=0) + [s.start for s in sl]
        hi = idx.max(axis=0) + [s.start for s in sl]
        touches = bool(np.any(lo == 0) or np.any(hi == np.asarray(shape) - 1))
    crop_affine = affine.copy()
    crop_affine[:3, 3] = voxel_to_world(affine, [s.start for s in sl])
    others = (vert_labels > 0) & ~vert
    return VertebraCrop(body, vert, np.asarray(hu[sl], np.float32), crop_affine, touches,
                        others)


def frame_box(
    crop: VertebraCrop, frame: VertebraFrame, step_mm: float, context_mm: float
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Local start (mm) and shape of the frame grid holding the vertebra plus `context_mm`.

    Raises
    ------
    ValueError
        When the mask spans more than any vertebra (:data:`MAX_VERTEBRA_EXTENT_MM`).
    """
    local = frame.to_local(crop.vertebra_surface_world())
    half_vox = 0.5 * max(affine_spacing(crop.affine))
    extent = local.max(axis=0) - local.min(axis=0)
    if float(extent.max()) > MAX_VERTEBRA_EXTENT_MM:
        # The grid's cost grows with the cube of the extent: a mask this large holds more
        # than a vertebra (a vessel, the heart) and is not planned.
        raise ValueError(
            f"the vertebra mask spans {extent.max():.0f} mm, more than any vertebra "
            f"({MAX_VERTEBRA_EXTENT_MM:.0f} mm): not plannable"
        )
    lo = local.min(axis=0) - context_mm - half_vox
    hi = local.max(axis=0) + context_mm + half_vox
    n = np.ceil((hi - lo) / step_mm).astype(int) + 1
    return lo, tuple(int(v) for v in n)  # type: ignore[return-value]


def frame_grid(crop: VertebraCrop, frame: VertebraFrame, step_mm: float = GRID_STEP_MM,
               context_mm: float = SOFT_TISSUE_SHELL_MM[1]) -> LocalGrid:
    """Resample a vertebra's crop (masks and HU) into its own frame.

    The grid holds the vertebra and `context_mm` around it, by default the soft-tissue
    shell (:data:`SOFT_TISSUE_SHELL_MM`), all that planning reads; it lies within the
    crop except, for a strongly tilted frame, at its corners (NaN HU there).

    Raises
    ------
    ValueError
        When the mask spans more than any vertebra.
    """
    lo, shape = frame_box(crop, frame, step_mm, context_mm)
    to_world = grid_to_world(frame, lo, step_mm)
    zero = (0, 0, 0)

    def mask(m: np.ndarray) -> np.ndarray:
        return sample_crop(m.view(np.uint8), crop.affine, to_world, zero, shape, 0,
                           0).astype(bool)

    body = mask(crop.body)
    return LocalGrid(
        frame=frame,
        start_mm=lo.astype(float),
        step_mm=float(step_mm),
        # The body belongs to the vertebra even where the two label maps disagree.
        vert=mask(crop.vertebra) | body,
        body=body,
        hu=sample_crop(crop.hu, crop.affine, to_world, zero, shape, 1,
                       np.nan).astype(np.float32),
        crop=crop,
    )


def label_crop(volume: Volume, vertebrae: LabelMap, bodies: LabelMap,
               label: int) -> VertebraCrop:
    """:func:`crop_vertebra` of one label of the segmentation's maps.

    Raises
    ------
    ValueError
        When the label is absent or the label maps are not on the CT grid.
    """
    if vertebrae.labels.shape != volume.shape or bodies.labels.shape != volume.shape:
        raise ValueError("the label maps are not on the CT grid")
    vbox, bbox = vertebrae.box(label), bodies.box(label)
    if vbox is None or bbox is None:
        raise ValueError(f"label {label} is absent from the label map")
    box = tuple(slice(min(a.start, b.start), max(a.stop, b.stop))
                for a, b in zip(vbox, bbox, strict=True))
    crop = crop_vertebra(volume.hu, vertebrae.labels, bodies.labels, volume.affine, label,
                         bbox=box)  # type: ignore[arg-type]
    assert crop is not None  # the label has voxels: its box exists
    return crop


def build_local_grid(
    volume: Volume,
    vertebrae: LabelMap,
    bodies: LabelMap,
    label: int,
    frame: VertebraFrame,
    step_mm: float = GRID_STEP_MM,
) -> LocalGrid:
    """Crop one vertebra (:func:`label_crop`) and resample it in its frame.

    Parameters
    ----------
    volume : Volume
        CT in HU, canonical RAS, any affine (oblique, anisotropic).
    vertebrae, bodies : LabelMap
        Whole-vertebra and body-only VerSe label maps on the CT's grid.
    label : int
        VerSe label of the vertebra.
    frame : VertebraFrame
        The vertebra's frame from the measurement stage.
    step_mm : float
        Isotropic step of the local grid.

    Raises
    ------
    ValueError
        When the label is absent, the label maps are not on the CT grid, or the mask
        spans more than any vertebra.
    """
    return frame_grid(label_crop(volume, vertebrae, bodies, label), frame, step_mm)
