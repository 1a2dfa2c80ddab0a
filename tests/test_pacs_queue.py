"""The listener's on-disk queue: a series that grows is analysed again, duplicates are not."""

from __future__ import annotations

from pathlib import Path

from kypho.pacs.queue import SeriesStore

UID = "1.2.3.4"


def _analysed(store: SeriesStore, n: int) -> None:
    """`n` instances received, the series queued, analysed and its results written."""
    for k in range(n):
        store.add_instance(UID, f"1.2.3.4.{k + 1}", b"x", "MOD")
    assert store.complete_series(quiet_s=0.0) == [UID]
    store.start_analysis(UID)
    (store.results(UID)).mkdir(parents=True)
    (store.results(UID) / "results.json").write_text("{}")
    store.finish_analysis(UID, status="analysed")


def test_duplicates_of_an_analysed_series_change_nothing(tmp_path: Path) -> None:
    store = SeriesStore(tmp_path)
    _analysed(store, 3)
    before = store.get(UID)
    assert store.add_instance(UID, "1.2.3.4.2", b"x", "MOD") == "duplicate"
    assert store.get(UID) == before and store.complete_series(quiet_s=0.0) == []


def test_a_grown_series_is_analysed_again_and_earlier_results_are_kept(tmp_path: Path) -> None:
    store = SeriesStore(tmp_path)
    _analysed(store, 3)
    store.update(UID, status="sent")
    assert store.add_instance(UID, "1.2.3.4.9", b"x", "MOD") == "grown"
    st = store.get(UID)
    assert st is not None and (st.status, st.instances) == ("receiving", 4)
    assert store.complete_series(quiet_s=0.0) == [UID]
    st = store.start_analysis(UID)
    assert (st.revision, st.analyses, st.analysed_instances) == (2, 2, 4)
    assert (tmp_path / "results" / f"{UID}.v1" / "results.json").read_text() == "{}"
    assert not store.results(UID).exists()  # the new analysis writes a fresh folder


def test_an_instance_arriving_during_the_analysis_sends_the_series_back(tmp_path: Path) -> None:
    store = SeriesStore(tmp_path)
    for k in range(3):
        store.add_instance(UID, f"1.2.3.4.{k + 1}", b"x", "MOD")
    store.complete_series(quiet_s=0.0)
    store.start_analysis(UID)
    assert store.add_instance(UID, "1.2.3.4.9", b"x", "MOD") == "grown"
    assert store.get(UID).status == "analysing"  # type: ignore[union-attr]
    st = store.finish_analysis(UID, status="analysed")
    assert (st.status, st.instances, st.analysed_instances) == ("receiving", 4, 3)


def test_a_restart_guard_counts_attempts_on_the_same_instances(tmp_path: Path) -> None:
    store = SeriesStore(tmp_path)
    store.add_instance(UID, "1.2.3.4.1", b"x", "MOD")
    store.complete_series(quiet_s=0.0)
    store.start_analysis(UID)
    store.recover()  # killed once: queued again
    assert store.get(UID).status == "queued"  # type: ignore[union-attr]
    store.start_analysis(UID)
    store.recover()  # killed twice on the same instances: given up, with a reason
    st = store.get(UID)
    assert st is not None and st.status == "failed" and "twice" in (st.error or "")
    assert store.add_instance(UID, "1.2.3.4.2", b"x", "MOD") == "grown"  # new data: retried
    assert store.get(UID).attempts == 0  # type: ignore[union-attr]


def test_an_archive_left_by_a_kill_is_never_overwritten(tmp_path: Path) -> None:
    store = SeriesStore(tmp_path)
    _analysed(store, 2)
    taken = tmp_path / "results" / f"{UID}.v1"
    taken.mkdir()
    (taken / "results.json").write_text("earlier")
    store.add_instance(UID, "1.2.3.4.9", b"x", "MOD")
    store.complete_series(quiet_s=0.0)
    assert store.start_analysis(UID).revision == 3
    assert (taken / "results.json").read_text() == "earlier"
    assert (tmp_path / "results" / f"{UID}.v2" / "results.json").read_text() == "{}"
