"""Virtual balloon inflation: trabecular compaction and endplate lift (a kypho model).

No inflation model is published (DOMAIN.md §9, §10.8); this one is ours.  Model:

* The balloon is a capsule of radius ``r`` around its axis segment (the planned balloon
  position along the trajectory) and grows in radius steps of ``STEP_MM``.
* Trabecular bone is a crushable foam (DOMAIN.md §9 suggested basis): a voxel reached by
  the balloon is compacted when the pressure reaches its compressive yield stress
  sigma_y(rho) (Kopperdahl, DOMAIN.md §8.1).  The pressure needed for a step is the
  median yield stress of the newly reached trabecular voxels.
* The body's outer voxel layer is cortex and is never crushed.  Growth sideways always
  crushes bone.  Growth up and down either crushes the next layer of bone or, in a
  fractured (mobile) body, pushes the bone columns and endplates apart as rigid plates,
  whichever needs less pressure: lifting needs resistance / (axial projected area of
  the balloon), so it takes over once the balloon is large enough; each lifting step
  opens the gap by twice the radius increment.  Once no trabecular bone is left above
  and below (the balloon bears on the endplates) it grows sideways only, at the
  sideways pressure, and lifts the endplates when that pressure suffices.
* The endplate is a rigid plate hinged at the posterior wall (the wall is intact in a
  kyphoplasty candidate): the height gain at depth y is lift * min(1, (y - y_post) /
  (y_balloon - y_post)); Ha, Hm, Hp are read at 10 %, 50 %, 90 % of the depth from the
  anterior cortex (DESIGN.md height definitions).
* Inflation stops at the first of: Hm gain reaches the target (lost height), pressure
  above the limit, balloon volume above its fill limit, balloon touching the lateral,
  anterior or posterior cortex.

Assumptions (each a constant below): preload 110 N, the load cadaver inflations were run
under (DOMAIN.md §9 row 1; 100 N intra-operative load, §8.4); one-voxel cortex; the
elastic deformation of the rest of the body is neglected (the lift is rigid-body motion
of the fractured endplate, which is what ex vivo tests show: ~half of the compressed
height recovers, Belkoff 97 % of lost height restored, DOMAIN.md §5.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from kypho.simulate.materials import law

__all__ = ["InflationResult", "InflationStep", "inflate"]

#: Radius increment per inflation step (mm); a numerical choice.
STEP_MM = 0.25
#: Axial preload resisting endplate lift (N): cadaver inflations under 110 N (DOMAIN.md §9).
PRELOAD_N = 110.0
#: In vivo resistance to endplate lift (N), CALIBRATED (not measured): the value for which
#: a 15 mm balloon at ~3 mL in 80-100 mg/cm3 trabecular bone gains Hm ~ +2 mm, the
#: clinical mean (Winkelmann 2018: Ha +1.5, Hm +2.1 mm, DOMAIN.md §5.4); see
#: tests/test_simulate_inflation.py.  It stands for ligaments, muscle tone and fracture
#: interlock, none of which is modelled explicitly.
IN_VIVO_RESISTANCE_N = 280.0
#: Cannula outer radius at which the balloon starts (11 G ~ 3.0 mm OD, DOMAIN.md §5.1).
START_RADIUS_MM = 1.5
#: AP positions of Ha, Hm, Hp as fractions of depth from the anterior cortex (DESIGN.md).
HEIGHT_FRACTIONS = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class InflationStep:
    """One inflation step: balloon volume, pressure, height gains (Ha, Hm, Hp)."""

    volume_ml: float
    pressure_mpa: float
    gain_mm: tuple[float, float, float]


@dataclass(frozen=True)
class InflationResult:
    """Inflation of one balloon.

    Attributes
    ----------
    steps : list of InflationStep
        Pressure-volume and height-volume curve.
    stop_reason : str
        target height, pressure limit, volume limit or cortical contact.
    cavity : ndarray of bool or None
        Compacted voxels (the cavity left by the balloon); None when read back from
        results.json, which holds only its size.
    cavity_voxels : int
        Voxels in the cavity (counted from ``cavity`` when it is given).
    """

    steps: list[InflationStep]
    stop_reason: str
    cavity: np.ndarray | None = field(default=None, repr=False, compare=False)
    cavity_voxels: int = 0

    def __post_init__(self) -> None:
        if self.cavity is not None:
            object.__setattr__(self, "cavity_voxels", int(np.count_nonzero(self.cavity)))

    @property
    def final(self) -> InflationStep:
        """Last accepted step."""
        return self.steps[-1]


def _segment_distance(shape, a: np.ndarray, b: np.ndarray, h: float) -> np.ndarray:
    """Distance (mm) of every voxel centre from the segment a-b (voxel coordinates)."""
    idx = np.indices(shape, dtype=np.float32).reshape(3, -1).T
    ab = b - a
    t = np.clip(((idx - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return (np.linalg.norm(idx - (a + t[:, None] * ab), axis=1) * h).reshape(shape)


def _balloon_geometry(
    body: np.ndarray, a: np.ndarray, b: np.ndarray, h: float
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Distance (mm) from the balloon axis, the voxels above/below it, the distance to the
    nearest wall cortex (mm) and the trabecular voxels."""
    dist = _segment_distance(body.shape, a, b, h)
    cortex = body & ~ndimage.binary_erosion(body)
    zc = np.indices(body.shape)[2]
    axis_z = 0.5 * (a[2] + b[2])
    vertical = np.abs(zc - axis_z) * h >= 0.7 * dist
    # the cortex the balloon must not touch: walls, i.e. cortex not above/below the axis
    wall = cortex & ~vertical
    d_wall = float(dist[wall].min()) if wall.any() else np.inf
    return dist, vertical, d_wall, body & ~cortex


def _hinge(y_bal: float, anterior_y: float, posterior_y: float) -> list[float]:
    """Lift at the Ha, Hm, Hp depths relative to the lift at the balloon, hinged at the
    posterior wall; either AP direction of axis 1 (anterior at low or at high y)."""
    depth = posterior_y - anterior_y
    arm = y_bal - posterior_y if abs(y_bal - posterior_y) > 1e-6 else 1e-6
    return [min(1.0, max(0.0, (y - posterior_y) / arm))
            for y in (anterior_y + f * depth for f in HEIGHT_FRACTIONS)]


def _step_pressure(sigma_y: np.ndarray, side: np.ndarray, up: np.ndarray,
                   p_lift: float) -> tuple[float, bool]:
    """Balloon pressure (MPa) of one growth step, and whether it lifts the endplates."""
    p_side = float(np.median(sigma_y[side])) if side.any() else 0.0
    if up.any():
        p_up = float(np.median(sigma_y[up]))
        return max(p_side, min(p_up, p_lift)), p_lift < p_up
    # No trabecular bone left above or below: the balloon bears on the endplates and
    # lifts them once that costs no more than growing sideways alone.
    return p_side, p_lift <= p_side


def inflate(
    density_mg_cm3: np.ndarray,
    body: np.ndarray,
    axis_start: np.ndarray,
    axis_end: np.ndarray,
    spacing_mm: float,
    anterior_y: float,
    posterior_y: float,
    target_gain_mm: float,
    max_volume_ml: float,
    max_pressure_mpa: float,
    resistance_n: float = PRELOAD_N,
    material: str = "kopperdahl",
) -> InflationResult:
    """Inflate one balloon in a vertebral body.

    Parameters
    ----------
    density_mg_cm3, body : ndarray
        Density and body mask on an isotropic grid; axis 2 is superior, axis 1 is the
        AP axis.
    axis_start, axis_end : ndarray (3,)
        Balloon axis in voxel coordinates.
    spacing_mm : float
        Voxel edge.
    anterior_y, posterior_y : float
        Voxel y of the anterior and posterior cortex at mid-body.
    target_gain_mm : float
        Height lost at Hm (stop when regained).
    max_volume_ml, max_pressure_mpa : float
        Balloon fill and pressure limits.
    resistance_n : float
        Axial force resisting the endplate lift: ``PRELOAD_N`` reproduces the ex vivo
        set-up, ``IN_VIVO_RESISTANCE_N`` the clinical one.
    """
    mobile = target_gain_mm > 0
    h = float(spacing_mm)
    a, b = np.asarray(axis_start, float), np.asarray(axis_end, float)
    dist, vertical, d_wall, trab = _balloon_geometry(body, a, b, h)
    sigma_y = law(material).yield_from_mg(density_mg_cm3)
    length = float(np.linalg.norm(b - a)) * h
    hinge = _hinge(0.5 * (a[1] + b[1]), anterior_y, posterior_y)
    steps = [InflationStep(0.0, 0.0, (0.0, 0.0, 0.0))]
    r, r_crush_z, lift = START_RADIUS_MM, START_RADIUS_MM, 0.0
    reason, cavity = "volume limit", trab & (dist <= START_RADIUS_MM)
    while True:
        r_new = r + STEP_MM
        vol_ml = (np.pi * r_new**2 * length + 4.0 / 3.0 * np.pi * r_new**3) / 1000.0
        side = trab & ~vertical & (dist > r) & (dist <= r_new)
        up = trab & vertical & (dist > r_crush_z) & (dist <= r_crush_z + STEP_MM)
        # pressure needed to push the fractured endplates apart as rigid plates
        p_lift = resistance_n / (2 * r_new * length + np.pi * r_new**2) if mobile else np.inf
        p, lifting = _step_pressure(sigma_y, side, up, p_lift)
        if r_new > d_wall:
            reason = "cortical contact"
            break
        if p > max_pressure_mpa:
            reason = "pressure limit"
            break
        if vol_ml > max_volume_ml:
            reason = "volume limit"
            break
        if lifting:
            lift += 2 * STEP_MM
        else:
            cavity |= up
            r_crush_z += STEP_MM
        cavity |= side
        r = r_new
        gain = tuple(lift * w for w in hinge)
        steps.append(InflationStep(vol_ml, p, gain))
        if gain[1] >= target_gain_mm:
            reason = "target height"
            break
    return InflationResult(steps, reason, cavity)
