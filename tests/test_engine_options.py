"""The model options the app and `track` share: sam2 missing, the CPU expectation."""

from __future__ import annotations

import argparse
import importlib.util

import pytest

from sam2tui.engine import options
from sam2tui.engine.tracker import ModelSpec
from sam2tui.errors import EngineError


def test_missing_sam2_names_the_exact_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "sam2" else real(name))
    with pytest.raises(EngineError) as error:
        options.require_sam2()
    assert str(error.value).endswith(options.SAM2_INSTALL) and "\n" not in str(error.value)


def test_cpu_note_scales_the_measured_figure_with_the_image_area() -> None:
    assert "~3.7 s per frame at 1024 px" in options.cpu_note(ModelSpec(image_size=1024))
    assert "~0.22 s per frame at 256 px" in options.cpu_note(ModelSpec(image_size=256))
    assert "~0.88 s per frame at 512" not in options.cpu_note(ModelSpec(image_size=512))  # 512 was measured
    assert "more than sam2.1-tiny's" in options.cpu_note(ModelSpec(name="sam2.1-large", image_size=1024))


def test_cpu_note_advises_only_what_is_faster() -> None:
    assert options.cpu_note(ModelSpec(name="sam2.1-tiny", image_size=1024)).endswith(
        "--image-size 512 is faster"
    )
    small = options.cpu_note(ModelSpec(name="sam2.1-tiny", image_size=256))
    assert "faster" not in small and "512" not in small
    assert options.cpu_note(ModelSpec(name="sam2.1-large", image_size=256)).endswith(
        "--model sam2.1-tiny is faster"
    )


def test_batched_objects_are_off_unless_asked_for() -> None:
    parser = argparse.ArgumentParser()
    options.add_model_arguments(parser)
    assert options.model_spec(parser.parse_args([])).batch_objects is False
    assert options.model_spec(parser.parse_args(["--batch-objects"])).batch_objects is True
