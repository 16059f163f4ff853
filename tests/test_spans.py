from sam2tui.session.spans import Span, correction_spans
from sam2tui.values import Direction


def test_correction_between_prompts_stops_before_them() -> None:
    spans = correction_spans(50, prompted_frames=[10, 50, 80], tracked_frames=range(0, 100))
    assert spans == [Span(50, Direction.FORWARD, 30), Span(50, Direction.BACKWARD, 40)]
    assert spans[0].frames == range(50, 80)
    assert spans[1].frames == range(11, 51)


def test_correction_without_later_prompt_reaches_the_tracked_extent_only() -> None:
    spans = correction_spans(20, prompted_frames=[0, 20], tracked_frames=range(0, 60))
    assert spans == [Span(20, Direction.FORWARD, 40), Span(20, Direction.BACKWARD, 20)]


def test_correction_on_untracked_object_redoes_nothing_but_its_frame() -> None:
    assert correction_spans(5, prompted_frames=[5], tracked_frames=[]) == []
    assert correction_spans(5, prompted_frames=[5], tracked_frames=[5]) == []


def test_adjacent_prompts_leave_no_span() -> None:
    assert correction_spans(5, prompted_frames=[4, 5, 6], tracked_frames=range(10)) == []
