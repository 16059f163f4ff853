"""Model registry, cache, resumable checked downloads (from a local HTTP server) and checkpoint loading."""

from __future__ import annotations

import argparse
import importlib.resources
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from sam2tui.engine import checkpoints
from sam2tui.engine.checkpoints import (
    MODELS,
    CheckpointError,
    add_models_arguments,
    cache_dir,
    fetch,
    load_state_dict,
    models_table,
    resolve_checkpoint,
    run_models,
)
from sam2tui.engine.tracker import ModelSpec
from sam2tui.values import FramePrompt, Prompt
from tests.file_server import FileServer
from tests.fixtures_engine import TINY, random_checkpoint_fixture  # noqa: F401 - the fixture


@pytest.fixture
def server(random_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FileServer]:
    s = FileServer(random_checkpoint.read_bytes())
    monkeypatch.setenv("SAM2TUI_CHECKPOINT_URL_BASE", s.url)
    yield s
    s.close()


def test_registry_names_configs_and_urls() -> None:
    assert list(MODELS) == [
        "sam2.1-tiny",
        "sam2.1-small",
        "sam2.1-base-plus",
        "sam2.1-large",
        "sam2-tiny",
        "sam2-small",
        "sam2-base-plus",
        "sam2-large",
    ]
    package = importlib.resources.files("sam2")
    for info in MODELS.values():
        assert package.joinpath(info.config).is_file(), info.config
        assert info.url.startswith("https://dl.fbaipublicfiles.com/segment_anything_2/")
        assert info.url.endswith("/" + info.filename)
    assert MODELS["sam2.1-base-plus"].config == "configs/sam2.1/sam2.1_hiera_b+.yaml"
    assert MODELS["sam2.1-base-plus"].url.endswith("092824/sam2.1_hiera_base_plus.pt")
    assert MODELS["sam2-large"].url.endswith("072824/sam2_hiera_large.pt")
    assert MODELS["sam2.1-tiny"].hf_id == "facebook/sam2.1-hiera-tiny"


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAM2TUI_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SAM2TUI_CACHE_DIR")
    assert cache_dir().parts[-2:] == ("sam2tui", "checkpoints")


def test_interrupted_download_resumes_with_range_and_loads(
    server: FileServer, random_checkpoint: Path
) -> None:
    server.cut_after = 5_000_000
    with pytest.raises(CheckpointError, match=r"transfer stopped at 5000000 of \d+ bytes"):
        fetch(TINY, progress=lambda message, fraction: None)
    part = cache_dir() / "sam2.1_hiera_tiny.pt.part"
    assert part.stat().st_size == 5_000_000
    fractions: list[float | None] = []
    path = fetch(TINY, progress=lambda message, fraction: fractions.append(fraction))
    assert server.ranges == [None, "bytes=5000000-"]
    assert not part.exists() and path == cache_dir() / "sam2.1_hiera_tiny.pt"
    assert path.read_bytes() == random_checkpoint.read_bytes()
    assert (
        fractions[-1] == 1.0 and fractions[0] is not None and fractions[0] > 5_000_000 / path.stat().st_size
    )
    assert resolve_checkpoint(ModelSpec(TINY), download=False) == (MODELS[TINY].config, path)
    # and it loads into the model through the ordinary path
    from sam2tui.engine.sam2_tracker import Sam2Tracker
    from sam2tui.video import VideoSource
    from tests.fixtures_engine import clip_frames, write_jpeg_folder

    tracker = Sam2Tracker(ModelSpec(TINY, None, "cpu", 64))
    folder = write_jpeg_folder(path.parent / "frames", clip_frames(2, (64, 48)))
    with VideoSource.open(folder) as video:
        tracker.start(video)
        assert tracker.set_prompt(FramePrompt(0, 1, (Prompt.click(0, 1, 10.0, 10.0),)))[0].frame == 0
    tracker.close()


def test_a_corrupt_download_is_not_kept(server: FileServer) -> None:
    server.payload = b"not a checkpoint" * 100
    with pytest.raises(CheckpointError, match="downloaded file is not a checkpoint"):
        fetch(TINY, progress=lambda m, f: None)
    assert not list(cache_dir().iterdir())


def test_offline_and_not_cached_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAM2TUI_CHECKPOINT_URL_BASE", "http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(CheckpointError) as error:
        resolve_checkpoint(ModelSpec(TINY), download=True, progress=lambda m, f: None)
    message = str(error.value)
    assert "\n" not in message
    assert "http://127.0.0.1:9/sam2.1_hiera_tiny.pt" in message and "place it here" in message
    assert message.startswith(str(cache_dir() / "sam2.1_hiera_tiny.pt"))
    monkeypatch.delenv("SAM2TUI_CHECKPOINT_URL_BASE")
    with pytest.raises(
        CheckpointError, match=r"is not cached; download https://dl\.fbaipublicfiles\.com/.*--checkpoint"
    ):
        resolve_checkpoint(ModelSpec("sam2-small"), download=False)


def test_plain_http_is_refused_outside_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        checkpoints,
        "MODELS",
        {TINY: MODELS[TINY].__class__(**{**vars(MODELS[TINY]), "url": "http://x/y.pt"})},
    )
    with pytest.raises(CheckpointError, match="plain http"):
        fetch(TINY)


def test_truncated_and_foreign_files(tmp_path: Path, random_checkpoint: Path) -> None:
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(random_checkpoint.read_bytes()[:1_000_000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_state_dict(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match='no "model"'):
        load_state_dict(foreign)
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        resolve_checkpoint(ModelSpec(TINY, tmp_path / "absent.pt"), download=False)
    with pytest.raises(CheckpointError, match="unknown model"):
        resolve_checkpoint(ModelSpec("sam3-huge"), download=False)


def test_a_checkpoint_of_another_model_is_refused_in_one_line(random_checkpoint: Path) -> None:
    from sam2tui.engine.sam2_tracker import Sam2Tracker

    with pytest.raises(CheckpointError) as error:
        Sam2Tracker(ModelSpec("sam2-tiny", random_checkpoint, "cpu", 64))  # sam2.1 weights, sam2 model
    assert "checkpoint is for another model (0 missing, 3 unexpected keys, 0 of another shape)" in str(
        error.value
    )
    with pytest.raises(CheckpointError, match=r"checkpoint is for another model \(\d+ missing"):
        Sam2Tracker(ModelSpec("sam2.1-small", random_checkpoint, "cpu", 64))


def test_models_command_lists_and_downloads(server: FileServer, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_models_arguments(parser)
    assert run_models(parser.parse_args([])) == 0
    listing = capsys.readouterr().out
    assert "sam2.1-tiny*" in listing and listing.count(" no ") == len(MODELS)
    assert run_models(parser.parse_args(["download", TINY])) == 0
    assert capsys.readouterr().out.strip() == f"{TINY}: {cache_dir() / 'sam2.1_hiera_tiny.pt'}"
    rows = {row["name"]: row for row in models_table()}
    assert rows[TINY]["cached"] and not rows["sam2.1-large"]["cached"]
