"""Independent synthetic spine-CT phantom generator.

This module draws analytic trunk phantoms (spine, ribs, sacrum, pelvis, organs,
patient table) and renders them like a CT scanner would: partial-volume
super-sampling along z, analytic soft edges in-plane, a Gaussian point-spread
function, additive (optionally correlated) noise and a random storage
orientation.  It was written without looking at the analysis engine or its own
phantoms, so that the engine can be tested on data built on independent
modelling assumptions.

Geometry conventions
--------------------
* Everything is modelled in a *scanner* RAS+ frame in millimetres (x to the
  patient's right, y anterior, z superior).  The affine of the stored image adds
  a random world offset and the axis permutation / flips of the storage layout.
* Each vertebra has its own frame (u right, v anterior, w superior) whose origin
  is the vertebral body centre.  The body is a kidney-shaped cylinder with
  waisted walls; its upper and lower endplate surfaces are
  ``w = +/-(h0 + g*v)/2 -/+ c*bowl(rho)``, i.e. a linear anterior-posterior height
  profile (wedging) plus a central concavity.  The two endplates are tilted
  symmetrically, so the mean of their normals is the frame's ``w`` axis; the
  truth heights (Ha, Hm, Hp at 10/50/90 % of the mid-sagittal AP depth from the
  anterior cortex) are therefore evaluated analytically along ``w``.
* Neighbouring vertebrae are separated by a shared mid-disc plane; posterior
  elements are clipped 0.6-1.0 mm short of it on each side (facet-joint gap).

Module map
----------
* :mod:`.shapes` - signed-distance primitives and rotations;
* :mod:`.vertebra`, :mod:`.fractures`, :mod:`.spine` - vertebra sizes, fractures and
  the placement of the column; :mod:`.vertebra_fields` - a vertebra's fields and layers;
* :mod:`.pelvis`, :mod:`.ribs` - sacrum, ilium and ribs;
* :mod:`.trunk`, :mod:`.soft_tissue` - the trunk model and its slice-by-slice painting;
* :mod:`.rendering` - grid, canvas and partial-volume compositing of local objects;
* :mod:`.field_of_view`, :mod:`.imaging`, :mod:`.ground_truth` - scan planning, image
  formation and storage, ground truth;
* :mod:`.case`, :mod:`.writing` - drawing a whole case, writing it, the command line.

Run ``python benchmarks/independent_phantoms --seed 1 --n 6 --out DIR``.
"""

from .case import IndependentCase, draw_case
from .field_of_view import SLICE_CHOICES
from .rendering import Q3, Ctx, Layers
from .shapes import F32
from .vertebra import LEVELS, SACRUM_LABEL
from .writing import main, write_case

__all__ = [
    "F32",
    "LEVELS",
    "Q3",
    "SACRUM_LABEL",
    "SLICE_CHOICES",
    "Ctx",
    "IndependentCase",
    "Layers",
    "draw_case",
    "main",
    "write_case",
]
