"""The Tracker backed by SAM 2's video predictor: the only module that imports sam2.

What this adds to sam2 1.1.0's `SAM2VideoPredictor` (see docs/architecture.md, "SAM 2 facts"):
- frames come lazily from a `VideoSource` (resized and normalised exactly like sam2's JPEG loader, a few
  cached), instead of a float32 copy of the whole video in memory;
- corrections survive propagation (`add_all_frames_to_correct_as_cond`), with at most `MAX_COND_FRAMES`
  conditioning frames in attention;
- the memory attention gets float32 memories (sam2 stores them as bfloat16 and crashes without CUDA
  autocast when an object's only conditioning frame lies ahead in the tracking direction);
- tracking state stays bounded: after each frame, propagated (non-conditioning) outputs further than the
  memory window from that frame, from the pass's start and from every prompted frame are dropped.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
import sam2.sam2_video_predictor as _predictor_module
import torch
from PIL import Image
from sam2.build_sam import build_sam2_video_predictor
from sam2.sam2_video_predictor import SAM2VideoPredictor

from sam2tui.engine.checkpoints import load_weights, resolve_checkpoint
from sam2tui.engine.device import resolve_device
from sam2tui.engine.tracker import CancelToken, ModelSpec, ProgressFn, result_from_mask
from sam2tui.errors import EngineError
from sam2tui.masks import decode
from sam2tui.values import Direction, FramePrompt, FrameResult

MAX_COND_FRAMES = 4
"""Prompted frames that each tracked frame attends to (the temporally closest ones)."""

IMG_MEAN = (0.485, 0.456, 0.406)  # sam2.utils.misc.load_video_frames defaults
IMG_STD = (0.229, 0.224, 0.225)


class Frames(Protocol):
    """What the tracker needs of a video (a `sam2tui.video.VideoSource` has it)."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    def __len__(self) -> int: ...

    def frame(self, index: int) -> np.ndarray: ...


class LazyFrames:
    """The model's input frames (3xSxS float32, normalised), decoded on demand.

    Keeps the last `cache` frames; while frames are read in sequence it prepares the next `prefetch` ones
    in a background thread (decoding and resizing release the GIL).
    """

    def __init__(self, video: Frames, image_size: int, *, cache: int = 4, prefetch: int = 2) -> None:
        self.video = video
        self.image_size = image_size
        self.width, self.height = video.width, video.height
        self._count = len(video)
        self._cache: OrderedDict[int, Future[torch.Tensor]] = OrderedDict()
        self._cache_size = max(cache, prefetch + 2)
        self._prefetch = prefetch
        self._last: int | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sam2tui-frames")
        self._mean = np.asarray(IMG_MEAN, np.float32)[:, None, None]
        self._std = np.asarray(IMG_STD, np.float32)[:, None, None]

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self._count:
            raise IndexError(index)
        step = index - self._last if self._last is not None else 0
        self._last = index
        wanted = self._request(index)
        if abs(step) == 1:
            for ahead in range(1, self._prefetch + 1):
                if 0 <= index + step * ahead < self._count:
                    self._request(index + step * ahead)
        return wanted.result()

    def _request(self, index: int) -> Future[torch.Tensor]:
        future = self._cache.get(index)
        if future is None:
            future = self._pool.submit(self._prepare, index)
            self._cache[index] = future
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return future

    def _prepare(self, index: int) -> torch.Tensor:
        # Exactly sam2.utils.misc._load_img_as_tensor and load_video_frames_from_jpg_images: PIL's default
        # resize, /255 in float64, stored as float32 (CxHxW, contiguous), then normalised in float32
        # (bit-identical inputs). In numpy, not torch: a torch op on this thread would start a second
        # OpenMP team, whose threads compete with the model's for the cores.
        size = (self.image_size, self.image_size)
        pixels = np.asarray(Image.fromarray(self.video.frame(index)).resize(size))
        image = (np.ascontiguousarray(pixels.transpose(2, 0, 1)) / 255.0).astype(np.float32)
        image -= self._mean
        image /= self._std
        return torch.from_numpy(image)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._cache.clear()


_sam2_load_video_frames = _predictor_module.load_video_frames


def _load_video_frames(video_path: Any, **kwargs: Any) -> Any:
    """sam2's frame loader, except that a LazyFrames passes through as the frame sequence."""
    if isinstance(video_path, LazyFrames):
        return video_path, video_path.height, video_path.width
    return _sam2_load_video_frames(video_path=video_path, **kwargs)


def _quiet_tqdm(iterable: Any, *args: Any, **kwargs: Any) -> Any:
    return iterable


# sam2's predictor looks both names up in its module: route LazyFrames through its own init_state (so every
# state key stays sam2's), and silence its per-call progress bar (we report progress ourselves).
_predictor_module.load_video_frames = _load_video_frames
_predictor_module.tqdm = _quiet_tqdm


def _memory_in_float32(module: torch.nn.Module, args: Any, kwargs: dict[str, Any]) -> Any:
    for key in ("memory", "memory_pos"):
        value = kwargs.get(key)
        if value is not None and value.dtype != torch.float32:
            kwargs[key] = value.float()
    return args, kwargs


class LazyFramesVideoPredictor(SAM2VideoPredictor):
    """sam2's video predictor that takes a LazyFrames and keeps memory attention in float32."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.memory_attention.register_forward_pre_hook(_memory_in_float32, with_kwargs=True)

    def init_lazy_state(self, frames: LazyFrames) -> dict[str, Any]:
        state: dict[str, Any] = self.init_state(frames, offload_video_to_cpu=True)
        return state


def _hole_filling_available() -> bool:
    try:
        from sam2 import _C  # noqa: F401
    except ImportError:
        return False
    return True


class Sam2Tracker:
    """A `Tracker` running SAM 2 on one video at a time. Not thread-safe: one thread owns it."""

    def __init__(
        self, spec: ModelSpec, progress: ProgressFn | None = None, *, autocast: bool | None = None
    ) -> None:
        """Resolve (download when needed) the checkpoint, build the model and load its weights.

        `autocast`: run under bfloat16 autocast; default on CUDA only.
        """
        size = spec.image_size
        if size % 32 or not 64 <= size <= 4096:
            raise EngineError(f"--image-size {size}: must be a multiple of 32 between 64 and 4096")
        self._spec = spec
        self.device = resolve_device(spec.device)
        config, checkpoint = resolve_checkpoint(spec, download=True, progress=progress)
        if progress is not None:
            progress(f"loading {spec.name} on {self.device}", None)
        overrides = [
            f"++model._target_={LazyFramesVideoPredictor.__module__}.{LazyFramesVideoPredictor.__qualname__}",
            "++model.add_all_frames_to_correct_as_cond=true",
            f"++model.max_cond_frames_in_attn={MAX_COND_FRAMES}",
        ]
        if size != 1024:
            overrides.append(f"++model.image_size={size}")
        predictor = build_sam2_video_predictor(
            config, None, device=str(self.device), hydra_overrides_extra=overrides
        )
        load_weights(predictor, checkpoint)
        if not _hole_filling_available():
            predictor.fill_hole_area = 0  # the optional CUDA extension is missing: skip, silently
        self.predictor: LazyFramesVideoPredictor = predictor
        self.autocast = self.device.type == "cuda" if autocast is None else autocast
        stride = predictor.memory_temporal_stride_for_eval
        # Frames behind the current one that sam2 reads: num_maskmem memories, max_obj_ptrs pointers.
        self.memory_window = max(predictor.num_maskmem * stride, predictor.max_obj_ptrs_in_encoder)
        self._frames: LazyFrames | None = None
        self._state: dict[str, Any] | None = None
        # The latest propagated (not prompted) result of each (obj_id, frame), with sam2's note of the
        # direction it was tracked in: a prompt on that frame refines this mask, clearing the prompt brings
        # it back (sam2's own output of the frame may have been pruned meanwhile).
        self._propagated: dict[tuple[int, int], tuple[FrameResult, dict[str, Any]]] = {}

    @property
    def model_name(self) -> str:
        return self._spec.name

    @property
    def image_size(self) -> int:
        return self._spec.image_size

    def _amp(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ---- Tracker ----

    def start(self, video: Frames) -> None:
        self.close()
        self._frames = LazyFrames(video, self._spec.image_size)
        with self._amp():
            self._state = self.predictor.init_lazy_state(self._frames)
        self._propagated.clear()

    def close(self) -> None:
        """Release the frames (and their thread) of the current video."""
        if self._frames is not None:
            self._frames.close()
        self._frames, self._state = None, None

    def set_prompt(self, prompt: FramePrompt) -> list[FrameResult]:
        state = self._require_state(prompt.frame)
        if prompt.is_empty:
            return self.clear_prompt(prompt.frame, prompt.obj_id)
        obj_idx = self.predictor._obj_id_to_idx(state, prompt.obj_id)
        self._forget_frame(obj_idx, prompt.obj_id, prompt.frame)
        try:
            with self._amp():
                if prompt.mask is not None:
                    self.predictor.add_new_mask(state, prompt.frame, prompt.obj_id, decode(prompt.mask))
                if prompt.points or prompt.box is not None:
                    with self._refining(obj_idx, prompt.obj_id, prompt.frame, feed=prompt.mask is None):
                        self.predictor.add_new_points_or_box(
                            state,
                            prompt.frame,
                            prompt.obj_id,
                            points=np.asarray(prompt.points, np.float32).reshape(-1, 2)
                            if prompt.points
                            else None,
                            labels=np.asarray(prompt.labels, np.int32) if prompt.points else None,
                            box=np.asarray(prompt.box, np.float32) if prompt.box is not None else None,
                            clear_old_points=True,
                        )
        except Exception:
            if not self._prompted_frames(obj_idx):
                self.remove_object(prompt.obj_id)  # an object without a prompt would stop every propagation
            raise
        return self._frame_results(prompt.frame)

    def clear_prompt(self, frame: int, obj_id: int) -> list[FrameResult]:
        state = self._require_state(frame)
        obj_idx = state["obj_id_to_idx"].get(obj_id)
        if obj_idx is None:
            return self._frame_results(frame)
        if self._has_prompt(obj_idx, frame):
            self._forget_frame(obj_idx, obj_id, frame)
        if not self._prompted_frames(obj_idx):
            self.remove_object(obj_id)  # nothing left to condition on: sam2 could not track it
        return self._frame_results(frame)

    def remove_object(self, obj_id: int) -> None:
        state = self._require_state()
        if obj_id in state["obj_id_to_idx"]:
            self.predictor.remove_object(state, obj_id, need_output=False)
        for key in [k for k in self._propagated if k[0] == obj_id]:
            del self._propagated[key]

    def propagate(
        self,
        start: int,
        direction: Direction,
        max_frames: int | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[list[FrameResult]]:
        state = self._require_state(start)
        if not state["obj_ids"] or (max_frames is not None and max_frames < 1):
            return
        limit = state["num_frames"] if max_frames is None else max_frames
        passes = []
        if direction in (Direction.FORWARD, Direction.BOTH):
            passes.append(False)
        if direction in (Direction.BACKWARD, Direction.BOTH):
            passes.append(True)
        for reverse in passes:
            repeat_start = direction is Direction.BOTH and reverse  # the forward pass gave it already
            if reverse and start == 0 and repeat_start:
                continue
            # sam2 skips a reverse pass that starts on frame 0; frame 0 alone is the same forwards.
            yield from self._propagate_pass(
                start, reverse and start > 0, 1 if reverse and start == 0 else limit, repeat_start, cancel
            )

    # ---- internals ----

    def _propagate_pass(
        self, start: int, reverse: bool, count: int, skip_start: bool, cancel: CancelToken | None
    ) -> Iterator[list[FrameResult]]:
        state = self._require_state()
        frames = self.predictor.propagate_in_video(
            state, start_frame_idx=start, max_frame_num_to_track=count - 1, reverse=reverse
        )
        frame = start
        try:
            while cancel is None or not cancel.cancelled:
                try:
                    with self._amp():
                        item = next(frames, None)
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    raise EngineError(
                        f"out of GPU memory at frame {frame}; try --model sam2.1-tiny or --image-size 512"
                    ) from None
                if item is None:
                    return
                done, obj_ids, logits = item
                results = self._results(done, obj_ids, logits, reverse)
                self._prune(done, start)
                frame = done + (-1 if reverse else 1)
                if not (skip_start and done == start):
                    yield results
        finally:
            frames.close()

    def _require_state(self, frame: int | None = None) -> dict[str, Any]:
        if self._state is None:
            raise EngineError("no video is open in the tracker")
        if frame is not None and not 0 <= frame < self._state["num_frames"]:
            raise ValueError(f"frame {frame} is outside the video (0..{self._state['num_frames'] - 1})")
        return self._state

    def _has_prompt(self, obj_idx: int, frame: int) -> bool:
        state = self._require_state()
        return (
            frame in state["point_inputs_per_obj"][obj_idx] or frame in state["mask_inputs_per_obj"][obj_idx]
        )

    def _prompted_frames(self, obj_idx: int) -> set[int]:
        state = self._require_state()
        return set(state["point_inputs_per_obj"][obj_idx]) | set(state["mask_inputs_per_obj"][obj_idx])

    def _forget_frame(self, obj_idx: int, obj_id: int, frame: int) -> None:
        """Drop the object's prompt and every sam2 output on `frame` (what sam2's clear_all_prompts_in_frame
        does, without keeping the prompt's mask as a propagated one).

        A new prompt then replaces the old one instead of refining its mask, exactly as a replay of the
        stored prompts computes it; on a propagated frame it is a correction again (see `_refining`).
        """
        state = self._require_state()
        state["point_inputs_per_obj"][obj_idx].pop(frame, None)
        state["mask_inputs_per_obj"][obj_idx].pop(frame, None)
        for table in (state["temp_output_dict_per_obj"][obj_idx], state["output_dict_per_obj"][obj_idx]):
            for kind in ("cond_frame_outputs", "non_cond_frame_outputs"):
                table[kind].pop(frame, None)
        tracked = state["frames_tracked_per_obj"][obj_idx]
        propagated = self._propagated.get((obj_id, frame))
        if propagated is None:
            tracked.pop(frame, None)  # never propagated: an initial conditioning frame, as in a replay
        else:
            tracked[frame] = propagated[1]

    @contextlib.contextmanager
    def _refining(self, obj_idx: int, obj_id: int, frame: int, feed: bool) -> Iterator[None]:
        """While sam2 applies clicks to a propagated frame, show it that frame's propagated mask.

        sam2 refines the previous mask of a frame (as a dense prompt) when it still holds it; we hold the
        binary mask, given as sam2 gives a mask prompt: logits of +-10 at a quarter of the input size.
        """
        propagated = self._propagated.get((obj_id, frame)) if feed else None
        state = self._require_state()
        outputs = state["output_dict_per_obj"][obj_idx]["non_cond_frame_outputs"]
        if propagated is not None:
            mask = torch.from_numpy(decode(propagated[0].rle)).to(self.device, torch.float32)[None, None]
            low_res = self.predictor.image_size // 4
            mask = torch.nn.functional.interpolate(
                mask, size=(low_res, low_res), mode="bilinear", align_corners=False, antialias=True
            )
            outputs[frame] = {"pred_masks": mask * 20.0 - 10.0}
        try:
            yield
        finally:
            if propagated is not None:
                outputs.pop(frame, None)

    def _frame_output(self, obj_idx: int, frame: int) -> dict[str, Any] | None:
        """The latest output of an object on a frame: a fresh prompt's first, then tracked ones."""
        state = self._require_state()
        temp = state["temp_output_dict_per_obj"][obj_idx]
        outputs = state["output_dict_per_obj"][obj_idx]
        for table in (temp, outputs):
            for kind in ("cond_frame_outputs", "non_cond_frame_outputs"):
                out = table[kind].get(frame)
                if out is not None:
                    return out
        return None

    def _frame_results(self, frame: int) -> list[FrameResult]:
        """Results on `frame` of every object that has one there: sam2's output, else the propagated one."""
        state = self._require_state()
        results: dict[int, FrameResult] = {}
        present = []
        for idx, obj_id in enumerate(state["obj_ids"]):
            out = self._frame_output(idx, frame)
            if out is not None:
                present.append((obj_id, out))
            elif (obj_id, frame) in self._propagated:
                results[obj_id] = self._propagated[(obj_id, frame)][0]
        if present:
            low_res = torch.cat([out["pred_masks"] for _, out in present], dim=0)
            _, video_res = self.predictor._get_orig_video_res_output(state, low_res)
            scores = [float(out["object_score_logits"].float().item()) for _, out in present]
            for r in self._to_results(frame, [obj_id for obj_id, _ in present], video_res, scores):
                results[r.obj_id] = r
        return [results[obj_id] for obj_id in state["obj_ids"] if obj_id in results]

    def _results(
        self, frame: int, obj_ids: list[int], logits: torch.Tensor, reverse: bool
    ) -> list[FrameResult]:
        """A propagated frame's results, remembered for the objects that have no prompt there."""
        state = self._require_state()
        scores = []
        for obj_id in obj_ids:
            out = self._frame_output(state["obj_id_to_idx"][obj_id], frame)
            scores.append(
                float(out["object_score_logits"].float().item()) if out is not None else float("nan")
            )
        results = self._to_results(frame, obj_ids, logits, scores)
        for result in results:
            if not self._has_prompt(state["obj_id_to_idx"][result.obj_id], frame):
                self._propagated[(result.obj_id, frame)] = (result, {"reverse": reverse})
        return results

    def _to_results(
        self, frame: int, obj_ids: list[int], logits: torch.Tensor, scores: list[float]
    ) -> list[FrameResult]:
        masks = (logits[:, 0] > 0).cpu().numpy()
        return [
            result_from_mask(frame, obj_id, mask, score, self.model_name)
            for obj_id, mask, score in zip(obj_ids, masks, scores, strict=True)
        ]

    def _prune(self, frame: int, start: int) -> None:
        """Drop propagated outputs that no later frame of this pass, nor a pass from a prompt, will read."""
        state = self._require_state()
        window = self.memory_window
        for outputs in state["output_dict_per_obj"].values():
            anchors = [frame, start, *outputs["cond_frame_outputs"]]
            propagated = outputs["non_cond_frame_outputs"]
            stale = [f for f in propagated if all(abs(f - a) > window for a in anchors)]
            for f in stale:
                del propagated[f]
