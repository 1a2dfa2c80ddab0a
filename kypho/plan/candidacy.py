"""Is this level a kyphoplasty case? Recommendation, reasons, cautions, prerequisites.

Imaging can grade the fracture, see the posterior wall, the pedicles, clefts, cement and
suspicious density; it cannot tell acuity, pain, infection or coagulation: those are
listed as prerequisites (DOMAIN.md §5.6, §11.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kypho.anatomy.levels import Level
from kypho.model import GenantGrade, Recommendation, VertebraMeasurement
from kypho.plan.findings import (
    FALLBACK_CANAL_AP_MM,
    MIN_CLEFT_ML,
    MIN_LOW_DENSITY_ML,
    ImagingFindings,
)

__all__ = ["Candidacy", "assess_candidacy", "posterior_wall_involved"]

#: Vertebra plana threshold: a GAP (DOMAIN.md §5.6, §10.6). ASSUMPTION: a remaining
#: height below 1/3 of the expected height anywhere, or an absolute height below 8 mm
#: (an 11 G cannula of 3.05 mm plus ~2.5 mm of bone above and below it).
VERTEBRA_PLANA_REMAINING_FRACTION = 1.0 / 3.0
VERTEBRA_PLANA_MIN_HEIGHT_MM = 8.0
#: Retropulsion that earns a caution (measurement noise is ~1 voxel). ASSUMPTION.
RETROPULSION_CAUTION_MM = 1.0
#: Canal compromise at which augmentation is not advised without surgical assessment.
#: ASSUMPTION (retropulsion is a relative contraindication, §11.1 1c; NASS AUC favours
#: "no stenosis", §11.1 1f).
CANAL_COMPROMISE_REFER = 1.0 / 3.0
#: Posterior-wall height loss (fraction) treated as posterior-wall involvement. ASSUMPTION.
POSTERIOR_WALL_LOSS_CAUTION = 0.15
#: Yavuz 2023: VP sufficient up to 50 % height loss, KP better beyond (§5.4).
KP_PREFERRED_LOSS = 0.5

PREREQUISITES = (
    "Acuity: MRI with STIR/fat-suppressed T2 oedema, or a bone scan/SPECT-CT if MRI is not "
    "possible (DOMAIN.md §11.1 I-1; trial inclusion §5.6). CT cannot date the fracture.",
    "Pain matches this level (tenderness on palpation/percussion) and is caused by the "
    "fracture (absolute limitation, §11.1 1c).",
    "Failed or intolerable non-surgical management: NRS/VAS >= 5 despite optimal care, or "
    ">= 8 when hospitalised (§11.1 I-3/I-4).",
    "No active infection (osteomyelitis, discitis, sepsis), no uncorrected coagulopathy, "
    "anticoagulation plan, no cement/contrast allergy, not pregnant (§5.6, §11.1 1c).",
    "Neurological examination documented (neurologic deficit is a relative "
    "contraindication, §11.1 1c).",
    "Referral for bone density evaluation and osteoporosis treatment (§11.1 I-6).",
)


@dataclass
class Candidacy:
    recommendation: Recommendation
    reasons: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)
    prerequisites: list[str] = field(default_factory=list)
    cortical_disruption: bool = False
    cleft: bool = False
    biopsy: bool = False


def posterior_wall_involved(vm: VertebraMeasurement) -> bool:
    """Retropulsion or posterior-wall height loss beyond the caution thresholds."""
    retro = vm.retropulsion_mm or 0.0
    pwl = vm.posterior_wall_height_loss or 0.0
    pwl = pwl / 100.0 if pwl > 1.0 else pwl  # accept a percentage too
    return retro >= RETROPULSION_CAUTION_MM or pwl >= POSTERIOR_WALL_LOSS_CAUTION


def assess_candidacy(level: Level, vm: VertebraMeasurement | None,
                     findings: ImagingFindings | None, *, access_ok: bool,
                     access_notes: list[str], balloon_fits: bool) -> Candidacy:
    """Decide the recommendation for one level.

    Parameters
    ----------
    level : Level
    vm : VertebraMeasurement or None
        The measurement of this level (None when it was not measured).
    findings : ImagingFindings or None
        Image findings (None when the geometry could not be built).
    access_ok : bool
        At least one safe transpedicular (or, thoracic, extrapedicular) access exists.
    access_notes : list of str
        Why access is limited, and the alternatives offered.
    balloon_fits : bool
        A 10/15/20 mm balloon fits the planned path(s).
    """
    c = Candidacy(Recommendation.BALLOON_KYPHOPLASTY, prerequisites=list(PREREQUISITES))
    stop: list[str] = []
    if level.region not in ("thoracic", "lumbar") or level is Level.L6:
        stop.append(f"{level.display} is outside T1-L5, the range covered for vertebral "
                    "augmentation (DOMAIN.md §11.1 I-2).")
    elif level <= Level.T4:
        c.cautions.append(f"{level.display}: T1-T4 are treated rarely (trials enrolled T5-L5, "
                          "§5.6; payer review, §11.1 I-2); pedicles are narrowest here (§7.1).")
    if vm is None or not vm.measurable or vm.frame is None:
        why = "not measured" if vm is None else (vm.reason or "no vertebra frame")
        stop.append(f"{level.display} could not be measured ({why}): no plan from imaging.")
        c.recommendation, c.reasons = Recommendation.NOT_SUITABLE, stop
        return c
    grade = vm.genant_grade
    if grade is None or grade < GenantGrade.MILD:
        stop.append(f"No compression fracture graded at {level.display} (Genant "
                    f"{'n/a' if grade is None else int(grade)}): augmentation is for fractures.")
    loss = _collapse(vm, stop)
    if vm.cement_volume_ml is not None and vm.cement_volume_ml > 0.5:
        stop.append(f"Cement already present ({vm.cement_volume_ml:.1f} mL): level already "
                    "augmented; re-augmentation is a separate decision.")
    _posterior_wall(vm, findings, c, stop)
    if findings is not None:
        _findings_cautions(vm, findings, c)
    c.cautions.append("Cortical and endplate integrity beyond the posterior wall are not "
                      "assessed automatically: review them on the images.")
    if not access_ok:
        stop.append("No safe pedicle access with the planned cannula: " + " ".join(access_notes))
    elif access_notes:
        c.cautions.extend(access_notes)
    if stop:
        c.recommendation, c.reasons = Recommendation.NOT_SUITABLE, stop
        return c
    if not balloon_fits:
        c.recommendation = Recommendation.VERTEBROPLASTY
        c.reasons.append("No 10/15/20 mm balloon fits between the cannula tip and the "
                         "anterior margin: vertebroplasty (cement without a balloon).")
        return c
    _suitable_reasons(c, level, vm, loss)
    return c


def _collapse(vm: VertebraMeasurement, stop: list[str]) -> float | None:
    """Largest height loss against the expected heights; a vertebra plana stops the plan."""
    cur, exp = vm.heights_mm, vm.expected_heights_mm
    loss = None
    if cur is not None and exp is not None:
        ratios = [c_ / e_ for c_, e_ in zip(cur.as_array(), exp.as_array(), strict=True) if e_ > 0]
        loss = 1.0 - min(ratios) if ratios else None
        if (ratios and min(ratios) < VERTEBRA_PLANA_REMAINING_FRACTION) or (
            min(cur.as_array()) < VERTEBRA_PLANA_MIN_HEIGHT_MM
        ):
            stop.append(
                f"Collapse too severe for a balloon (vertebra plana): smallest height "
                f"{min(cur.as_array()):.1f} mm, {100 * (loss or 0):.0f} % loss (assumed limit: "
                "< 1/3 of expected or < 8 mm; the threshold is a GAP, DOMAIN.md §5.6). "
                "Surgical opinion; vertebroplasty only by an experienced operator."
            )
    return loss


def _posterior_wall(vm: VertebraMeasurement, findings: ImagingFindings | None, c: Candidacy,
                    stop: list[str]) -> None:
    """Posterior wall involvement: a caution, or a stop beyond the canal-compromise limit."""
    retro = vm.retropulsion_mm or 0.0
    if posterior_wall_involved(vm):
        c.cortical_disruption = True
        canal = findings.canal_ap_mm if findings and findings.canal_ap_mm else FALLBACK_CANAL_AP_MM
        compromise = retro / (canal + retro) if retro > 0 else 0.0
        text = (f"Posterior wall involvement (retropulsion {retro:.1f} mm, "
                f"~{100 * compromise:.0f} % "
                f"of a {canal:.0f} mm canal): relative contraindication (§11.1 1c, §5.6). "
                "MRI of the canal and a neurological examination first; if treated, balloon "
                "kyphoplasty (leakage 18.4 % vs 54.7 % for vertebroplasty, §5.3) with "
                "high-viscosity cement, lateral fluoroscopy on the posterior wall during "
                "inflation and filling, and no cement in the posterior quarter.")
        if compromise >= CANAL_COMPROMISE_REFER:
            stop.append(text.replace("relative contraindication", "canal compromise beyond the "
                                     "assumed 1/3 limit; surgical assessment first"))
        else:
            c.cautions.append(text)


def _findings_cautions(vm: VertebraMeasurement, findings: ImagingFindings,
                       c: Candidacy) -> None:
    """Cautions (and a biopsy) from the image findings: gas cleft, low-density focus."""
    if findings.gas_volume_ml >= MIN_CLEFT_ML:
        c.cleft = True
        c.cautions.append(
            f"Intravertebral gas cleft ({findings.gas_volume_ml:.2f} mL; Kummell-type "
            "non-union): leakage OR 1.40 (§5.3), re-collapse OR 2.97 after vertebroplasty "
            "(§5.5); fill the cleft completely, interdigitate with surrounding bone.")
    if findings.low_density_volume_ml >= MIN_LOW_DENSITY_ML:
        c.cleft = True
        c.biopsy = True
        c.cautions.append(
            f"Focal region of {findings.low_density_volume_ml:.1f} mL below this patient's "
            f"soft-tissue/trabecular levels (soft tissue {findings.soft_tissue_hu:.0f} HU, "
            # Assessable only with a measured trabecular level: it is not None here.
            f"trabecular {vm.trabecular_hu_median:.0f} HU): fluid cleft or lytic/"
            "destructive lesion. A pathologic fracture cannot be excluded: MRI, and "
            "biopsy at the same sitting.")
        c.prerequisites.append("Biopsy at the same sitting; oncology work-up if malignant.")
    if not findings.low_density_assessable:
        c.cautions.append("Trabecular bone is too close to soft-tissue density to screen "
                          "for lytic lesions on CT: rely on MRI.")


def _suitable_reasons(c: Candidacy, level: Level, vm: VertebraMeasurement,
                      loss: float | None) -> None:
    """Why balloon kyphoplasty is recommended at a level that passed every check."""
    grade = vm.genant_grade
    c.reasons.append(f"Genant grade {int(grade)} {vm.morphotype or ''} fracture at "  # type: ignore[arg-type]
                     f"{level.display}; a balloon fits the planned path(s).".replace("  ", " "))
    if loss is not None and loss > KP_PREFERRED_LOSS:
        c.reasons.append(f"Height loss {100 * loss:.0f} % > 50 %: kyphoplasty better than "
                         "vertebroplasty at 5 years (Yavuz 2023, §5.4).")
    else:
        c.reasons.append("Vertebroplasty is a valid alternative at <= 50 % height loss "
                         "(Yavuz 2023, §5.4); kyphoplasty leaks less (18.4 % vs 54.7 %, §5.3) "
                         "and restores some height (§5.4).")
    if c.cortical_disruption or c.cleft:
        c.reasons.append("Leakage risk factors present: the balloon cavity and high-viscosity "
                         "cement lower leakage compared with vertebroplasty (§5.3).")
