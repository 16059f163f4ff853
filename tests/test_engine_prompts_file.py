"""The prompts file of `track`: reading, one-line errors naming the JSON path, masks, and saving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sam2tui import masks
from sam2tui.errors import PromptsError
from sam2tui.session.store import SessionStore
from sam2tui.track.prompts_file import load_prompts, save_prompts
from sam2tui.values import FramePrompt, Prompt, PromptKind, TrackedObject
from sam2tui.video import VideoSource
from tests.fixtures_engine import clip_frames, write_jpeg_folder

W, H, N = 160, 120, 6


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "prompts.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def load(path: Path, warnings: list[str] | None = None) -> Any:
    return load_prompts(
        path, width=W, height=H, frame_count=N, warn=(warnings if warnings is not None else []).append
    )


def one(prompt: dict[str, Any], **obj: Any) -> dict[str, Any]:
    return {"objects": [{"id": 1, "prompts": [prompt], **obj}]}


def test_reads_objects_and_prompts_in_order(tmp_path: Path) -> None:
    mask = np.zeros((H, W), np.uint8)
    mask[10:20, 30:50] = 7
    Image.fromarray(mask).save(tmp_path / "m.png")
    data = {
        "objects": [
            {
                "id": 3,
                "name": "dog",
                "class": "animal",
                "prompts": [
                    {"frame": 0, "points": [[10, 20], [30.5, 40]], "labels": [1, 0]},
                    {"frame": 2, "box": [5, 6, 70, 80], "points": [[20, 20]]},
                    {"frame": 4, "mask": "m.png"},
                ],
            },
            {"id": 1, "prompts": [{"frame": 5, "points": [[160, 120]], "labels": [1]}]},
        ]
    }
    loaded = load(write(tmp_path, data))
    assert loaded.objects == (
        TrackedObject(3, "dog", "animal", loaded.objects[0].color),
        TrackedObject(1, "object 1", "object", loaded.objects[1].color),
    )
    assert loaded.prompts[:2] == (Prompt.click(0, 3, 10, 20), Prompt.click(0, 3, 30.5, 40, positive=False))
    assert loaded.prompts[2] == Prompt.rectangle(2, 3, (5, 6, 70, 80))
    assert loaded.prompts[3] == Prompt.click(2, 3, 20, 20)  # labels default to positive
    assert loaded.prompts[4].kind is PromptKind.MASK and loaded.prompts[4].frame == 4
    assert masks.area(loaded.prompts[4].mask) == 200  # type: ignore[arg-type]
    groups = loaded.frame_prompts()
    assert FramePrompt.collect(2, 3, groups[(2, 3)]) == FramePrompt(
        2, 3, (Prompt.rectangle(2, 3, (5, 6, 70, 80)), Prompt.click(2, 3, 20, 20))
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "file is empty"),
        ("{", "not valid JSON (line 1 column 2"),
        ([], 'expected {"objects": [...]} at the top level'),
        ({"objects": []}, "objects: no objects"),
        ({"objects": [{"id": 0, "prompts": []}]}, "objects[0].id: needs an integer id of 1 or more"),
        ({"objects": [{"id": 1}, {"id": 1}]}, "objects[1].id: id 1 is used twice"),
        ({"objects": [{"id": 1, "colour": [1, 2, 3]}]}, "objects[0]: unknown key 'colour'"),
        (
            one({"frame": 6, "box": [1, 1, 5, 5]}),
            "objects[0].prompts[0].frame: frame 6 is past the end of the video",
        ),
        (one({"frame": -1, "box": [1, 1, 5, 5]}), "objects[0].prompts[0].frame: needs a frame number"),
        (one({"frame": 0}), 'objects[0].prompts[0]: needs "points", "box" or "mask"'),
        (
            one({"frame": 0, "points": [[1, 2], [161, 3]]}),
            "prompts[0].points[1]: (161, 3) is outside the 160x120",
        ),
        (one({"frame": 0, "points": [[1, 2]], "labels": [1, 0]}), "prompts[0].labels: 2 labels for 1 points"),
        (one({"frame": 0, "points": [[1, 2]], "labels": [2]}), "labels: must be a list of 1 (object) or 0"),
        (one({"frame": 0, "points": [1, 2]}), "prompts[0].points[0]: must be [x, y] in pixels"),
        (one({"frame": 0, "box": [1, 1, 1, 5]}), "prompts[0].box: the box is empty"),
        (one({"frame": 0, "box": [1, 1, 5, 500]}), "prompts[0].box: (5, 500) is outside"),
        (one({"frame": 0, "mask": "nope.png"}), "prompts[0].mask: mask file not found: "),
        (one({"frame": 0, "box": [1, 1, 5, 5]}, color=[1, 2]), "objects[0].color: must be [r, g, b]"),
    ],
)
def test_errors_are_one_line_naming_file_and_json_path(tmp_path: Path, content: Any, problem: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(PromptsError) as error:
        load(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PromptsError, match="no such file"):
        load(tmp_path / "absent.json")


def test_masks_of_any_mode_and_size(tmp_path: Path) -> None:
    rgba = np.zeros((H // 2, W // 2, 4), np.uint8)
    rgba[..., 3] = 255  # opaque everywhere: alpha does not count
    rgba[5:15, 5:25, 0] = 200
    Image.fromarray(rgba, "RGBA").save(tmp_path / "half.png")
    palette = Image.fromarray(np.pad(np.ones((10, 10), np.uint8), ((0, H - 10), (0, W - 10))), "L").convert(
        "P"
    )
    palette.save(tmp_path / "pal.png")
    Image.new("L", (W, H)).save(tmp_path / "empty.png")
    data = {
        "objects": [{"id": 1, "prompts": [{"frame": 0, "mask": "half.png"}, {"frame": 1, "mask": "pal.png"}]}]
    }
    warnings: list[str] = []
    loaded = load(write(tmp_path, data), warnings)
    assert masks.box(loaded.prompts[0].mask) == (10, 10, 40, 20)  # type: ignore[arg-type]
    assert masks.area(loaded.prompts[1].mask) == 100  # type: ignore[arg-type]
    assert len(warnings) == 1 and "1 mask(s)" in warnings[0] and "half.png (80x60)" in warnings[0]
    with pytest.raises(PromptsError, match=r"prompts\[0\]\.mask: mask .*empty.png is empty"):
        load(write(tmp_path, one({"frame": 0, "mask": str(tmp_path / "empty.png")})))


def test_save_then_load_gives_the_same_frame_prompts(tmp_path: Path) -> None:
    folder = write_jpeg_folder(tmp_path / "frames", clip_frames(N, (W, H)))
    with VideoSource.open(folder) as video:
        fingerprint = video.fingerprint()
    mask = np.zeros((H, W), bool)
    mask[30:60, 40:90] = True
    with SessionStore.open(tmp_path / "s.sam2tui", fingerprint) as store:
        store.add_object("dog", "animal")
        store.add_object()
        store.add_prompts(
            [
                Prompt.click(0, 1, 10, 20),
                Prompt.click(0, 1, 30, 40, positive=False),
                Prompt.rectangle(3, 1, (5, 6, 70, 80)),
                Prompt.click(3, 1, 20, 30),
                Prompt.from_mask(2, 2, masks.encode(mask)),
                Prompt.click(2, 2, 50, 40),
                # clicks, then a box, then a click: three entries keep the order they are applied in
                Prompt.click(4, 2, 10, 10),
                Prompt.rectangle(4, 2, (5, 5, 50, 50)),
                Prompt.click(4, 2, 20, 20, positive=False),
            ]
        )
        written = (
            save_prompts(tmp_path / "out" / "prompts.json", store)
            if (tmp_path / "out").mkdir() is None
            else []
        )
        assert [p.name for p in written] == ["obj2_frame000002.png", "prompts.json"]
        loaded = load(tmp_path / "out" / "prompts.json")
        assert [(o.obj_id, o.name, o.class_name, o.color) for o in loaded.objects] == [
            (o.obj_id, o.name, o.class_name, o.color) for o in store.objects()
        ]
        again = sorted(
            (FramePrompt.collect(f, o, group) for (f, o), group in loaded.frame_prompts().items()),
            key=lambda fp: (fp.frame, fp.obj_id),
        )
        assert again == store.frame_prompts()
