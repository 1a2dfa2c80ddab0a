"""``kypho batch``: cohorts on a local pool and on a Dask LocalCluster (kypho.batch)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kypho.batch.cases import BatchInputError, discover_cases
from kypho.cli import app
from tests.dicom_helpers import write_small_case

runner = CliRunner()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A fractured osteoporotic case, a normal dense one and an unreadable file."""
    root = tmp_path_factory.mktemp("cohort")
    truth = {}
    for name, loss, hu in (("frac", 0.35, 70.0), ("normal", 0.0, 190.0)):
        ph, _ = write_small_case(root / "in" / name, dicom=False, seed=len(truth), loss=loss,
                                 hu=hu)
        truth[f"{name}_ct"] = ph.truth.to_json()
    (root / "in" / "broken.nii.gz").write_bytes(b"not a NIfTI file")
    return root, truth


def test_cases_are_found_in_folders_and_manifest(cohort, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root, _ = cohort
    cases = discover_cases([root / "in"])
    assert sorted(c.case_id for c in cases) == ["broken", "frac_ct", "normal_ct"]
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"case_id,path\nA,{root / 'in' / 'frac' / 'ct.nii.gz'}\n")
    assert [c.case_id for c in discover_cases([], manifest)] == ["A"]
    with pytest.raises(BatchInputError):
        discover_cases([tmp_path / "missing"])


@pytest.fixture(scope="module")
def local_run(cohort):  # type: ignore[no-untyped-def]
    root, truth = cohort
    out = root / "out-local"
    result = runner.invoke(app, ["batch", str(root / "in"), "-o", str(out), "--workers", "2"])
    return out, result, truth


def test_bad_case_is_retried_reported_and_does_not_stop_the_batch(local_run) -> None:  # type: ignore[no-untyped-def]
    out, result, _ = local_run
    assert result.exit_code == 1, result.output  # a failure is reported in the exit code
    studies = {r["case_id"]: r for r in _rows(out / "summary_studies.csv")}
    assert studies["broken"]["status"] == "failed" and studies["broken"]["error"]
    assert studies["frac_ct"]["status"] == "done" and studies["normal_ct"]["status"] == "done"
    assert "1 retried" in result.output


def test_summary_matches_phantom_truth(local_run) -> None:  # type: ignore[no-untyped-def]
    out, _, truth = local_run
    rows = _rows(out / "summary_vertebrae.csv")
    for case_id, t in truth.items():
        got = {r["level"]: r for r in rows if r["case_id"] == case_id}
        assert set(got) == {v["level"] for v in t["vertebrae"]}
        for v in t["vertebrae"]:
            assert int(got[v["level"]]["genant_grade"]) == v["genant_grade"], (case_id, v["level"])
            assert abs(float(got[v["level"]]["hp_mm"]) - v["heights_mm"]["posterior"]) < 1.5


def test_worklist_lists_the_fracture_and_not_the_normal_case(local_run) -> None:  # type: ignore[no-untyped-def]
    out, _, _ = local_run
    work = _rows(out / "worklist.csv")
    assert [r["case_id"] for r in work] == ["frac_ct"]
    assert "Genant grade 2" in work[0]["reasons"] and "likely osteoporosis" in work[0]["reasons"]


def test_rerun_skips_finished_cases(local_run) -> None:  # type: ignore[no-untyped-def]
    out, _, _ = local_run
    stamp = (out / "frac_ct" / "results.json").stat().st_mtime_ns
    again = runner.invoke(app, ["batch", str(out.parent / "in"), "-o", str(out)])
    assert "0 analysed, 2 already done, 1 failed" in " ".join(again.output.split())
    assert (out / "frac_ct" / "results.json").stat().st_mtime_ns == stamp
    assert len(_rows(out / "summary_studies.csv")) == 3  # earlier cases still summarised


def test_dask_local_cluster_gives_the_same_results(cohort, local_run) -> None:  # type: ignore[no-untyped-def]
    from distributed import LocalCluster

    root, _ = cohort
    out = root / "out-dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, memory_limit="4GiB") as cluster:
        result = runner.invoke(app, ["batch", str(root / "in"), "-o", str(out),
                                     "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 1, result.output
    local = _rows(local_run[0] / "summary_vertebrae.csv")
    assert _rows(out / "summary_vertebrae.csv") == local


def _capped_batch(cohort, out: Path, *extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    root, _ = cohort
    manifest = out.parent / "m.csv"
    manifest.write_text(f"case_id,path\nA,{root / 'in' / 'frac' / 'ct.nii.gz'}\n")
    # The small phantom adds ~0.4 GB of address space to its worker: 0.15 GB is too little.
    result = runner.invoke(app, ["batch", "--manifest", str(manifest), "-o", str(out),
                                 "--memory-limit-gb", "0.15", *extra])
    assert result.exit_code == 1, result.output
    (row,) = _rows(out / "summary_studies.csv")
    return row


def test_memory_cap_fails_the_case_not_the_batch(cohort, tmp_path) -> None:  # type: ignore[no-untyped-def]
    row = _capped_batch(cohort, tmp_path / "out")
    assert row["status"] == "failed" and "MemoryError" in row["error"]


def test_memory_cap_applies_inside_a_dask_worker_and_is_lifted_after(cohort, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import resource

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None, memory_limit="4GiB") as cluster, \
            Client(cluster) as client:
        before = client.run(resource.getrlimit, resource.RLIMIT_AS)
        pids = client.run(__import__("os").getpid)
        row = _capped_batch(cohort, tmp_path / "out", "--scheduler", cluster.scheduler_address)
        assert row["status"] == "failed" and "MemoryError" in row["error"], row
        # The long-lived worker survived its failed case and has its own limit back.
        assert client.run(__import__("os").getpid) == pids
        assert client.run(resource.getrlimit, resource.RLIMIT_AS) == before
        # The profiler paused for the batch runs again.
        assert all(client.run(_profiler_running).values())


def _profiler_running(dask_worker) -> bool:  # type: ignore[no-untyped-def]
    return bool(dask_worker.periodic_callbacks["profile"].is_running())
