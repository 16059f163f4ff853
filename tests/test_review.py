"""Lost and doubtful frames from crafted results, their runs as flags, and jumping between flags."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sam2tui import masks
from sam2tui.engine.tracker import result_from_mask
from sam2tui.session.review import (
    THRESHOLDS_KEY,
    Flag,
    FrameState,
    flags,
    frame_states,
    next_flagged,
    save_thresholds,
    thresholds_from,
)
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, ReviewThresholds
from sam2tui.video import VideoFingerprint

H, W = 40, 60
U, P, L, D = FrameState.UNTRACKED, FrameState.PRESENT, FrameState.LOST, FrameState.DOUBTFUL
DEFAULTS = ReviewThresholds()


def rect(frame: int, x: int = 10, y: int = 10, w: int = 10, h: int = 10, score: float = 7.0) -> FrameResult:
    mask = np.zeros((H, W), bool)
    mask[y : y + h, x : x + w] = True
    return result_from_mask(frame, 1, mask, score)


def dots(frame: int, count: int) -> FrameResult:
    """`count` separate 3x3 squares whose total area stays close to a 10x10 square's."""
    mask = np.zeros((H, W), bool)
    for i in range(count):
        mask[10:13, 10 + 5 * i : 13 + 5 * i] = True
    mask[14:20, 10:20] = count == 1  # one part: keep the area near the others
    return result_from_mask(frame, 1, mask, 7.0)


def empty(frame: int, score: float) -> FrameResult:
    return result_from_mask(frame, 1, np.zeros((H, W), bool), score)


def by_frame(*results: FrameResult) -> dict[int, FrameResult]:
    return {r.frame: r for r in results}


def test_untracked_and_present() -> None:
    results = by_frame(rect(1), rect(2), rect(3, x=11))
    assert frame_states(results, 5, DEFAULTS) == [U, P, P, P, U]
    assert flags(results, 5, DEFAULTS, obj_id=1) == []


def test_a_lost_run_is_one_flag_named_by_its_worst_frame() -> None:
    results = by_frame(rect(0), empty(1, -1.5), empty(2, -3.24), rect(3, score=-0.5), empty(4, 0.5), rect(5))
    assert frame_states(results, 6, DEFAULTS) == [P, L, L, L, L, P]
    assert flags(results, 6, DEFAULTS, obj_id=3) == [Flag(3, 1, 4, L, "lost (score -3.2)")]
    assert flags(by_frame(empty(0, 1.0)), 1, DEFAULTS, 1) == [Flag(1, 0, 0, L, "lost (empty mask)")]


def test_low_score() -> None:
    results = by_frame(rect(0), rect(1, score=1.4), rect(2, score=1.9), rect(3, score=2.0))
    assert frame_states(results, 4, DEFAULTS) == [P, D, D, P]
    assert flags(results, 4, DEFAULTS, 1) == [Flag(1, 1, 2, D, "low score 1.4")]


def test_area_jump_against_the_previous_frame() -> None:
    grown = rect(1, w=18, h=10)  # 100 -> 180 px
    shrunk = rect(3, w=4, h=10)  # 180 -> 180, then 180 -> 40 px
    results = by_frame(rect(0), grown, rect(2, w=18, h=10), shrunk)
    assert frame_states(results, 4, DEFAULTS) == [P, D, P, D]
    assert flags(results, 4, DEFAULTS, 1) == [
        Flag(1, 1, 1, D, "area jump +80%"),
        Flag(1, 3, 3, D, "area jump -78%"),
    ]


def test_iou_drop_against_the_previous_frame() -> None:
    results = by_frame(rect(0, x=10), rect(1, x=17), rect(2, x=18))  # same area; 30/170 overlap
    assert frame_states(results, 3, DEFAULTS) == [P, D, P]
    assert flags(results, 3, DEFAULTS, 1) == [Flag(1, 1, 1, D, "IoU 0.18 with previous frame")]


def test_a_mask_in_many_parts() -> None:
    results = by_frame(dots(0, 1), dots(1, 5), dots(2, 4), dots(3, 3))
    assert [masks.area(r.rle) for r in results.values()] == [69, 45, 36, 27]
    relaxed = ReviewThresholds(area_jump=10, min_iou=0)
    assert frame_states(results, 4, relaxed) == [P, D, D, P]
    assert flags(results, 4, relaxed, 1) == [Flag(1, 1, 2, D, "mask in 5 parts")]
    off = ReviewThresholds(area_jump=10, min_iou=0, max_parts=0)
    assert frame_states(results, 4, off) == [P, P, P, P]


def test_a_stored_part_count_spares_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(rle: object) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr(masks, "decode", no_decoding)
    counted = dataclasses.replace(rect(1, x=11), parts=7)
    results = by_frame(dataclasses.replace(rect(0), parts=1), counted)
    assert flags(results, 2, DEFAULTS, 1) == [Flag(1, 1, 1, D, "mask in 7 parts")]


def test_a_frame_after_a_lost_or_untracked_one_is_not_compared() -> None:
    results = by_frame(rect(0, x=0), empty(1, -2), rect(2, x=40, w=20), rect(4, x=0, w=5))
    assert frame_states(results, 5, DEFAULTS) == [P, L, P, U, P]


def test_runs_split_by_kind_state_and_gaps() -> None:
    results = by_frame(
        rect(0),
        rect(1, score=1.0),  # low score
        rect(2, x=16, score=1.5),  # low score (checked before the IoU drop)
        rect(3, x=23),  # IoU drop
        empty(4, -1),  # lost
        rect(6, score=0.5),  # low score after a gap
        rect(7, score=0.7),
    )
    assert flags(results, 8, DEFAULTS, 2) == [
        Flag(2, 1, 2, D, "low score 1.0"),
        Flag(2, 3, 3, D, "IoU 0.18 with previous frame"),
        Flag(2, 4, 4, L, "lost (score -1.0)"),
        Flag(2, 6, 7, D, "low score 0.5"),
    ]


def test_results_outside_the_video_are_ignored() -> None:
    results = by_frame(rect(0), empty(3, -1), rect(-1))
    assert frame_states(results, 2, DEFAULTS) == [P, U]
    assert flags(results, 2, DEFAULTS, 1) == []


def test_next_flagged_both_ways() -> None:
    found = [Flag(1, 5, 9, L, "a"), Flag(2, 5, 6, D, "b"), Flag(1, 20, 20, D, "c"), Flag(2, 12, 14, D, "d")]
    assert next_flagged(found, 0) == found[0]  # the lower object id first among equal starts
    assert next_flagged(found, 5) == found[3]
    assert next_flagged(found, 7) == found[3]
    assert next_flagged(found, 20) is None
    assert next_flagged(found, 21, forward=False) == found[2]
    assert next_flagged(found, 13, forward=False) == found[3]  # from inside a run: to its start
    assert next_flagged(found, 12, forward=False) == found[0]
    assert next_flagged(found, 5, forward=False) is None
    assert next_flagged([], 3) is None


def test_thresholds_are_kept_in_the_session(tmp_path: Path) -> None:
    fp = VideoFingerprint(str(tmp_path / "v.mp4"), 10, W, H, 24.0, "99" * 20)
    path = tmp_path / "v.mp4.sam2tui"
    with SessionStore.open(path, fp) as store:
        assert thresholds_from(store) == DEFAULTS
        custom = ReviewThresholds(low_score=1.0, area_jump=0.8, min_iou=0.3, max_parts=5, extra={"a": 1})
        save_thresholds(store, custom)
    with SessionStore.open(path, fp) as store:
        assert thresholds_from(store) == custom
        store.set_setting(THRESHOLDS_KEY, {"low_score": "high", "min_iou": 0.7, "max_parts": True})
        assert thresholds_from(store) == ReviewThresholds(min_iou=0.7)
        store.set_setting(THRESHOLDS_KEY, [1, 2])
        assert thresholds_from(store) == DEFAULTS


frame_results = st.dictionaries(
    st.integers(0, 29),
    st.tuples(
        st.integers(0, 45),
        st.integers(0, 30),
        st.integers(0, 15),
        st.integers(1, 10),
        st.floats(-5, 9, allow_nan=False),
    ).map(lambda v: (v[0], v[1], v[2], v[3], v[4])),
)


@settings(max_examples=60, deadline=None)
@given(frame_results)
def test_flags_cover_exactly_the_lost_and_doubtful_frames(values: dict) -> None:
    results = {f: rect(f, x, y, w, h, score) for f, (x, y, w, h, score) in values.items()}
    states = frame_states(results, 30, DEFAULTS)
    found = flags(results, 30, DEFAULTS, 4)
    covered: list[int] = []
    for flag in found:
        assert flag.obj_id == 4 and flag.start <= flag.end
        assert all(states[f] is flag.state for f in range(flag.start, flag.end + 1))
        covered.extend(range(flag.start, flag.end + 1))
    assert covered == sorted(set(covered))  # disjoint and in order
    assert covered == [f for f, s in enumerate(states) if s in (L, D)]
    assert [f for f, s in enumerate(states) if s is not U] == sorted(results)


@pytest.fixture
def many_results() -> Iterator[list[dict[int, FrameResult]]]:
    """10,000 frames x 5 objects at 1080p, 50 distinct masks per object (so IoUs are memoised mostly)."""
    size = [1080, 1920]
    objects = []
    for obj_id in range(1, 6):
        shapes = [rect(0, x=2 * k + obj_id, y=5, w=20 + k % 3, h=20) for k in range(50)]
        # Scale the small masks' RLEs up to a 1080p frame without encoding 50k masks.
        big = [masks.encode(np.pad(masks.decode(s.rle), ((0, 1040), (0, 1860)))) for s in shapes]
        objects.append(
            {
                f: FrameResult(f, obj_id, big[f % 50], 7.0, shapes[f % 50].box, shapes[f % 50].area)
                for f in range(10_000)
            }
        )
        assert big[0]["size"] == size
    yield objects


def test_ten_thousand_frames_of_five_objects_are_reviewed_quickly(many_results) -> None:
    import time

    start = time.perf_counter()
    for obj_id, results in enumerate(many_results, 1):
        frame_states(results, 10_000, DEFAULTS)
        flags(results, 10_000, DEFAULTS, obj_id)
    assert time.perf_counter() - start < 5
