"""The Tracker backed by SAM 2's video predictor: the only module that imports sam2.

What this adds to sam2 1.1.0's `SAM2VideoPredictor` (see docs/architecture.md, "SAM 2 facts"):
- frames come lazily from a `VideoSource` (resized and normalised exactly like sam2's JPEG loader, a few
  cached), instead of a float32 copy of the whole video in memory;
- corrections survive propagation (`add_all_frames_to_correct_as_cond`), with at most `MAX_COND_FRAMES`
  conditioning frames in attention;
- the memory attention gets float32 memories (sam2 stores them as bfloat16 and crashes without CUDA
  autocast when an object's only conditioning frame lies ahead in the tracking direction);
- tracking state stays bounded: after each frame, propagated (non-conditioning) outputs further than the
  memory window from that frame, from the pass's start and from every prompted frame are dropped;
- a frame's prompts are applied one at a time through sam2's own calls, as its interactive loop does, and
  only the new ones when sam2 holds the rest (`set_prompt`);
- a propagation can continue from committed frames: `resume` rebuilds sam2's memory of them from their
  stored masks.
- with `ModelSpec.batch_objects`, objects that read the same memory frames are propagated as one batch
  (`LazyFramesVideoPredictor.propagate_objects_batched`), where sam2 runs them one by one.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
import sam2.sam2_video_predictor as _predictor_module
import torch
from PIL import Image
from sam2.build_sam import build_sam2_video_predictor
from sam2.sam2_video_predictor import SAM2VideoPredictor

from sam2tui.engine.checkpoints import load_weights, resolve_checkpoint
from sam2tui.engine.device import resolve_device
from sam2tui.engine.tracker import CancelToken, CommittedReader, ModelSpec, ProgressFn, result_from_mask
from sam2tui.errors import EngineError
from sam2tui.masks import decode
from sam2tui.values import Direction, FramePrompt, FrameResult, Prompt, PromptKind

MAX_COND_FRAMES = 4
"""Prompted frames that each tracked frame attends to (the temporally closest ones)."""

FRAME_WORKERS = 2
"""Threads that prepare the model's input frames (two frames at once: PIL's resize is single-threaded)."""

RESULTS_AHEAD = 2
"""Propagated frames whose masks may wait for the results thread before the model's thread waits."""

IMG_MEAN = (0.485, 0.456, 0.406)  # sam2.utils.misc.load_video_frames defaults
IMG_STD = (0.229, 0.224, 0.225)


class Frames(Protocol):
    """What the tracker needs of a video (a `sam2tui.video.VideoSource` has it)."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    def __len__(self) -> int: ...

    def frame(self, index: int, *, prefetch: bool = True) -> np.ndarray: ...


class LazyFrames:
    """The model's input frames (3xSxS float32, normalised), decoded on demand.

    Keeps the last `cache` frames; while frames are read in sequence, `workers` background threads prepare
    the next `prefetch` ones (decoding, PIL's resize and numpy's lookups release the GIL). With no workers
    a frame is prepared on the thread that asks for it, when it asks.

    On the CPU a frame equals sam2's JPEG loader's bit for bit. With `device` (CUDA: the tracker's choice)
    the uint8 frame is uploaded and resized and normalised there instead (`resize_on_device`): close to
    sam2's values, not equal (see docs/architecture.md, "SAM 2 facts").
    """

    def __init__(
        self,
        video: Frames,
        image_size: int,
        *,
        cache: int = 4,
        prefetch: int = 4,
        workers: int = FRAME_WORKERS,
        device: torch.device | None = None,
    ) -> None:
        self.video = video
        self.image_size = image_size
        self.width, self.height = video.width, video.height
        self.device = device
        self._count = len(video)
        self._cache: OrderedDict[int, Future[torch.Tensor]] = OrderedDict()
        self._cache_size = max(cache, prefetch + 2)
        self._prefetch = prefetch
        self._last: int | None = None
        self._pool = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sam2tui-frames") if workers else None
        )
        self._normalised = normalising_tables()

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self._count:
            raise IndexError(index)
        step = index - self._last if self._last is not None else 0
        self._last = index
        wanted = self._request(index)
        if abs(step) == 1 and self._pool is not None:
            for ahead in range(1, self._prefetch + 1):
                if 0 <= index + step * ahead < self._count:
                    self._request(index + step * ahead)
        return wanted.result()

    def _request(self, index: int) -> Future[torch.Tensor]:
        future = self._cache.get(index)
        if future is None:
            if self._pool is None:
                future = Future()
                future.set_result(self._prepare(index))
            else:
                future = self._pool.submit(self._prepare, index)
            self._cache[index] = future
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return future

    def _prepare(self, index: int) -> torch.Tensor:
        # Without workers this runs on the model's thread, on the CPU: no decoding ahead beside the model.
        pixels = self.video.frame(index, prefetch=self._pool is not None)
        if self.device is not None:
            return resize_on_device(pixels, self.image_size, self.device)
        # Exactly sam2.utils.misc._load_img_as_tensor and load_video_frames_from_jpg_images: PIL's default
        # resize, then per channel the values sam2's normalising gives (`normalising_tables`), looked up by
        # OpenCV (3.6 ms a 1024 px frame on one core, against numpy's take 13.8; its pool is one per process).
        # Not in torch: on a frames thread a torch op would start an OpenMP team of that thread's own.
        size = (self.image_size, self.image_size)
        image = np.empty((3, *size), np.float32)
        for channel, band in enumerate(Image.fromarray(pixels).resize(size).split()):
            cv2.LUT(np.asarray(band), self._normalised[channel], dst=image[channel])
        return torch.from_numpy(image)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._cache.clear()


def normalising_tables() -> np.ndarray:
    """3x256 float32: what sam2's loader makes of each uint8 value in each channel.

    The same operations as sam2's (/255 in float64, stored as float32, minus the mean and over the std in
    float32), so a lookup gives its values bit for bit, at a fraction of the cost of computing them.
    """
    values = (np.arange(256) / 255.0).astype(np.float32)
    mean = np.asarray(IMG_MEAN, np.float32)[:, None]
    std = np.asarray(IMG_STD, np.float32)[:, None]
    return np.ascontiguousarray((values[None, :] - mean) / std)


def resize_on_device(pixels: np.ndarray, image_size: int, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 -> 3xSxS float32 normalised on `device`: PIL's bicubic resize as torch computes it
    (antialiased, rounded to uint8 values as PIL's output is), then sam2's normalising."""
    # A decoded frame may be read-only (torch warns on wrapping one): a copy of ~1 ms, on CUDA only.
    pixels = pixels if pixels.flags.writeable else pixels.copy()
    frame = torch.from_numpy(pixels).to(device, non_blocking=True).permute(2, 0, 1)[None].float()
    resized = torch.nn.functional.interpolate(
        frame, size=(image_size, image_size), mode="bicubic", align_corners=False, antialias=True
    )
    resized = resized.round_().clamp_(0, 255) / 255.0
    mean = torch.tensor(IMG_MEAN, device=device)[:, None, None]
    std = torch.tensor(IMG_STD, device=device)[:, None, None]
    return ((resized[0] - mean) / std).contiguous()


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


def memory_in_float32(module: torch.nn.Module, args: Any, kwargs: dict[str, Any]) -> Any:
    for key in ("memory", "memory_pos"):
        value = kwargs.get(key)
        if value is not None and value.dtype != torch.float32:
            kwargs[key] = value.float()
    return args, kwargs


class LazyFramesVideoPredictor(SAM2VideoPredictor):
    """sam2's video predictor that takes a LazyFrames and keeps memory attention in float32."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.memory_attention.register_forward_pre_hook(memory_in_float32, with_kwargs=True)

    def init_lazy_state(self, frames: LazyFrames) -> dict[str, Any]:
        state: dict[str, Any] = self.init_state(frames, offload_video_to_cpu=True)
        return state

    @torch.inference_mode()
    def propagate_objects_batched(
        self, state: dict[str, Any], start: int, max_frames: int, reverse: bool
    ) -> Iterator[tuple[int, list[int], torch.Tensor]]:
        """`propagate_in_video(state, start, max_frames, reverse)`, except that on each frame the objects
        that read the same memory frames are tracked as one batch, not one by one.

        A batch member reads exactly what it reads alone (the batch's memory stacks the members' own
        memories of the same frames), and every step after the backbone is per batch element: the masks
        agree with sam2's within float tolerance (the differential test). sam2's own loop runs instead
        where the model's options make objects depend on each other (non-overlapping masks for the memory
        encoder mix a batch) or change the memory around prompts (`clear_non_cond_mem_around_input`).
        """
        if self.non_overlap_masks_for_mem_enc or self.clear_non_cond_mem_around_input:
            yield from self.propagate_in_video(state, start, max_frames, reverse)
            return
        self.propagate_in_video_preflight(state)
        if reverse:
            order = range(start, max(start - max_frames, 0) - 1, -1) if start > 0 else range(0)
        else:
            order = range(start, min(start + max_frames, state["num_frames"] - 1) + 1)
        for frame in order:
            masks = self._track_frame(state, frame, reverse)
            _, video_res = self._get_orig_video_res_output(state, torch.cat(masks, dim=0))
            yield frame, state["obj_ids"], video_res

    def _track_frame(self, state: dict[str, Any], frame: int, reverse: bool) -> list[torch.Tensor]:
        """Each object's low-res mask logits on `frame`, as one step of sam2's propagation loop."""
        outputs = state["output_dict_per_obj"]
        masks: dict[int, torch.Tensor] = {}
        # Objects whose memory holds the same frames near this one (and the same prompted frames) read the
        # same frames' memories: sam2 picks them by frame index alone.
        batches: dict[tuple[tuple[int, ...], tuple[int, ...]], list[int]] = {}
        window = max(self.num_maskmem * self.memory_temporal_stride_for_eval, self.max_obj_ptrs_in_encoder)
        for obj_idx in range(len(outputs)):
            output = outputs[obj_idx]
            cond = output["cond_frame_outputs"]
            if frame in cond:  # a prompted frame keeps its prompts' output, as in sam2's loop
                masks[obj_idx] = cond[frame]["pred_masks"].to(state["device"], non_blocking=True)
            else:
                near = sorted(f for f in output["non_cond_frame_outputs"] if abs(f - frame) <= window)
                batches.setdefault((tuple(sorted(cond)), tuple(near)), []).append(obj_idx)
        for (cond_frames, near), members in batches.items():
            # an object alone reads its own memory, as in sam2's loop (no copy)
            memory = (
                outputs[members[0]]
                if len(members) == 1
                else {
                    "cond_frame_outputs": {
                        f: _stacked(outputs, members, "cond_frame_outputs", f) for f in cond_frames
                    },
                    "non_cond_frame_outputs": {
                        f: _stacked(outputs, members, "non_cond_frame_outputs", f) for f in near
                    },
                }
            )
            out, low_res = self._run_single_frame_inference(
                inference_state=state,
                output_dict=memory,
                frame_idx=frame,
                batch_size=len(members),
                is_init_cond_frame=False,
                point_inputs=None,
                mask_inputs=None,
                reverse=reverse,
                run_mem_encoder=True,
            )
            for k, obj_idx in enumerate(members):
                outputs[obj_idx]["non_cond_frame_outputs"][frame] = _member(out, k)
                masks[obj_idx] = low_res[k : k + 1]
        for tracked in state["frames_tracked_per_obj"].values():
            tracked[frame] = {"reverse": reverse}
        return [masks[obj_idx] for obj_idx in range(len(outputs))]


def _stacked(outputs: dict[int, Any], members: list[int], kind: str, frame: int) -> dict[str, Any]:
    """The members' memory of one frame as one batch: what sam2's memory attention reads of it."""
    first = outputs[members[0]][kind][frame]
    return {
        "maskmem_features": torch.cat([outputs[i][kind][frame]["maskmem_features"] for i in members]),
        # the same constant for every frame and object in sam2 (`_get_maskmem_pos_enc`)
        "maskmem_pos_enc": [x[:1].expand(len(members), -1, -1, -1) for x in first["maskmem_pos_enc"]],
        "obj_ptr": torch.cat([outputs[i][kind][frame]["obj_ptr"] for i in members]),
    }


def _member(out: dict[str, Any], k: int) -> dict[str, Any]:
    """Batch element `k` of a frame's compact output, as sam2 stores one object's."""
    return {
        "maskmem_features": out["maskmem_features"][k : k + 1],
        "maskmem_pos_enc": [x[k : k + 1] for x in out["maskmem_pos_enc"]],
        "pred_masks": out["pred_masks"][k : k + 1],
        "obj_ptr": out["obj_ptr"][k : k + 1],
        "object_score_logits": out["object_score_logits"][k : k + 1],
    }


def _hole_filling_available() -> bool:
    try:
        from sam2 import _C  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class _HostFrame:
    """A frame's thresholded masks (NxHxW bool) and score logits on their way to the host; `copied`:
    the CUDA event after their copies (None on the CPU, where they are there already)."""

    masks: torch.Tensor
    scores: list[torch.Tensor | None]
    copied: torch.cuda.Event | None


@dataclass(frozen=True)
class _Applied:
    """The prompt steps sam2 holds for one object on one frame; `initial`: the first came before any
    propagation reached the frame (so sam2 segments it without memory, like SAM)."""

    steps: tuple[Prompt, ...]
    initial: bool


class Sam2Tracker:
    """A `Tracker` running SAM 2 on one video at a time. Not thread-safe: one thread owns it."""

    def __init__(
        self,
        spec: ModelSpec,
        progress: ProgressFn | None = None,
        *,
        autocast: bool | None = None,
        resize_on_device: bool | None = None,
        pipeline: bool | None = None,
    ) -> None:
        """Resolve (download when needed) the checkpoint, build the model and load its weights.

        `autocast`: run under bfloat16 autocast; default on CUDA only. `resize_on_device`: resize and
        normalise the frames on the model's device (`LazyFrames`); default on CUDA only, where it keeps
        the host free; on the CPU the frames equal sam2's JPEG loader's. `pipeline`: prepare frames and
        encode results on threads beside the model's (see `_propagate_pass`); default off the CPU only.
        `spec.batch_objects`: propagate through `LazyFramesVideoPredictor.propagate_objects_batched`.
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
        on_cuda = self.device.type == "cuda"
        self.resize_on_device = on_cuda if resize_on_device is None else resize_on_device
        # On the CPU the model's OpenMP team already takes every core: work beside it does not overlap, it
        # preempts the team (docs/architecture.md, "The engine worker").
        self.pipeline = self.device.type != "cpu" if pipeline is None else pipeline
        self.batch_objects = spec.batch_objects
        stride = predictor.memory_temporal_stride_for_eval
        # Frames behind the current one that sam2 reads: num_maskmem memories, max_obj_ptrs pointers.
        self.memory_window = max(predictor.num_maskmem * stride, predictor.max_obj_ptrs_in_encoder)
        self._frames: LazyFrames | None = None
        self._state: dict[str, Any] | None = None
        # The latest propagated (not prompted) result of each (obj_id, frame), with sam2's note of the
        # direction it was tracked in: a prompt on that frame refines this mask, clearing the prompt brings
        # it back (sam2's own output of the frame may have been pruned meanwhile).
        self._propagated: dict[tuple[int, int], tuple[FrameResult, dict[str, Any]]] = {}
        # The prompt steps sam2 holds for each (obj_id, frame), so that a further click applies only itself.
        self._applied: dict[tuple[int, int], _Applied] = {}
        # The results last encoded on the last prompted frame, per obj_id, with the tensors of sam2's output
        # they came from: a prompt changes one object's output, so the others' results are reused, not
        # encoded again (one frame only: the outputs they keep alive may since have been pruned).
        self._encoded: dict[int, tuple[torch.Tensor, torch.Tensor, FrameResult]] = {}
        self._encoded_frame: int | None = None

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
        self._frames = LazyFrames(
            video,
            self._spec.image_size,
            workers=FRAME_WORKERS if self.pipeline else 0,
            device=self.device if self.resize_on_device else None,
        )
        with self._amp():
            self._state = self.predictor.init_lazy_state(self._frames)
        self._propagated.clear()
        self._applied.clear()
        self._encoded.clear()

    def close(self) -> None:
        """Release the frames (and their thread) of the current video."""
        if self._frames is not None:
            self._frames.close()
        self._frames, self._state = None, None

    def set_prompt(self, prompt: FramePrompt) -> list[FrameResult]:
        """Apply the frame's steps one at a time, as sam2's interactive loop does when a user clicks.

        When the tracker already holds a prefix of the steps on that frame, only the new ones are
        applied; otherwise the frame's inputs are reset and every step is applied again, in order.
        """
        state = self._require_state(prompt.frame)
        if prompt.is_empty:
            return self.clear_prompt(prompt.frame, prompt.obj_id)
        frame, obj_id = prompt.frame, prompt.obj_id
        obj_idx = self.predictor._obj_id_to_idx(state, obj_id)
        held = self._applied.pop((obj_id, frame), None)
        if held is not None and prompt.steps[: len(held.steps)] == held.steps:
            applied = held
        else:
            if held is not None:
                self._forget_frame(obj_idx, obj_id, frame)
            applied = _Applied((), initial=frame not in state["frames_tracked_per_obj"][obj_idx])
        try:
            with self._amp():
                for step in prompt.steps[len(applied.steps) :]:
                    self._apply(obj_idx, step, applied)
                    applied = _Applied((*applied.steps, step), applied.initial)
        except Exception:
            if not self._prompted_frames(obj_idx):
                self.remove_object(obj_id)  # an object without a prompt would stop every propagation
            raise
        finally:
            if applied.steps and obj_id in state["obj_id_to_idx"]:
                self._applied[(obj_id, frame)] = applied
        return self._frame_results(frame)

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
        self._encoded.pop(obj_id, None)
        for table in (self._propagated, self._applied):
            for key in [k for k in table if k[0] == obj_id]:
                del table[key]

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

    def resume(self, start: int, direction: Direction, read: CommittedReader) -> None:
        """Rebuild sam2's memory of the committed frames next to `start` from their stored results.

        Those are the frames before `start` in `direction` (after it backwards, both sides for BOTH) that a
        propagation from `start` reads, farthest first, as they were tracked:
        - the frames read for their object pointers only (max_obj_ptrs_in_encoder - 1 back): the image
          features, the memory encoder on the stored mask and a pointer from sam2's SAM heads on it, as
          sam2 does for a mask prompt;
        - the frames read for their mask memories too (num_maskmem - 1 back): sam2 tracks each again from
          the memory rebuilt so far, its logits are made to agree with the stored mask (their sign), and the
          memory encoder runs on those. sam2 encodes sigmoid(logits), not the binary mask: where the
          logits are small (random weights: about +-0.05) a binary mask would be a different memory.
        Prompted frames keep what their prompts gave, frames sam2 tracked in this state keep its own output,
        and the results stay the stored ones.
        """
        state = self._require_state(start)
        if not state["obj_ids"]:
            return
        predictor = self.predictor
        memories = (predictor.num_maskmem - 1) * predictor.memory_temporal_stride_for_eval
        reach = max(memories, predictor.max_obj_ptrs_in_encoder - 1)
        sides = []
        if direction in (Direction.FORWARD, Direction.BOTH):
            sides.append(False)
        if direction in (Direction.BACKWARD, Direction.BOTH):
            sides.append(True)
        with self._amp(), torch.inference_mode():
            predictor.propagate_in_video_preflight(state)  # the prompts' outputs become conditioning memory
            for reverse in sides:
                behind = 1 if reverse else -1
                for distance in range(reach, 0, -1):
                    frame = start + behind * distance
                    if 0 <= frame < state["num_frames"]:
                        for result in read(frame):
                            self._remember(result, reverse, retrack=distance <= memories)

    # ---- internals ----

    def _remember(self, result: FrameResult, reverse: bool, retrack: bool) -> None:
        """Put a committed result into sam2's state as its own propagated output of that frame."""
        state = self._require_state()
        predictor = self.predictor
        frame = result.frame
        obj_idx = state["obj_id_to_idx"].get(result.obj_id)
        if obj_idx is None:
            return
        outputs = state["output_dict_per_obj"][obj_idx]
        if self._has_prompt(obj_idx, frame) or frame in outputs["non_cond_frame_outputs"]:
            return  # sam2 has its own output there: prompted, or tracked in this state
        size = predictor.image_size
        stored = torch.from_numpy(decode(result.rle)).to(self.device, torch.float32)[None, None]
        # the stored mask at the model's input size, exactly as add_new_mask resizes a mask prompt
        stored = torch.nn.functional.interpolate(
            stored, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
        stored = stored >= 0.5
        if retrack:
            out, _ = predictor._run_single_frame_inference(
                inference_state=state,
                output_dict=outputs,
                frame_idx=frame,
                batch_size=1,
                is_init_cond_frame=False,
                point_inputs=None,
                mask_inputs=None,
                reverse=reverse,
                run_mem_encoder=False,
            )
            low_res, obj_ptr = out["pred_masks"].to(self.device), out["obj_ptr"]
            logits = torch.nn.functional.interpolate(
                low_res, size=(size, size), mode="bilinear", align_corners=False
            ).abs()
            high_res = torch.where(stored, logits, -logits)
        else:
            _, _, feats, _, sizes = predictor._get_image_feature(state, frame, 1)
            high_res_features = [
                x.permute(1, 2, 0).view(x.size(1), x.size(2), *s)
                for x, s in zip(feats[:-1], sizes[:-1], strict=True)
            ]
            pix_feat = feats[-1].permute(1, 2, 0).view(-1, predictor.hidden_dim, *sizes[-1])
            low_res, high_res, _, _, _, obj_ptr, _ = predictor._use_mask_as_output(
                pix_feat, high_res_features, stored.float()
            )
        score = torch.full((1, 1), result.score, dtype=torch.float32, device=self.device)
        memory, memory_pos = predictor._run_memory_encoder(
            state, frame, 1, high_res, score, is_mask_from_pts=False
        )
        note = {"reverse": reverse}
        outputs["non_cond_frame_outputs"][frame] = {
            "maskmem_features": memory,
            "maskmem_pos_enc": memory_pos,
            "pred_masks": low_res.to(state["storage_device"]),
            "obj_ptr": obj_ptr,
            "object_score_logits": score,
        }
        state["frames_tracked_per_obj"][obj_idx][frame] = note
        self._propagated[(result.obj_id, frame)] = (result, note)

    def _propagate_pass(
        self, start: int, reverse: bool, count: int, skip_start: bool, cancel: CancelToken | None
    ) -> Iterator[list[FrameResult]]:
        """sam2's propagation of one direction. With `pipeline`, each frame's masks go to a results thread
        (thresholded where they are computed; copied to the host, RLE, boxes, parts there) while the model
        computes the next frames; without, the model's thread encodes them itself. Frames are yielded in
        order once their results are ready. Every frame the model
        finished is yielded, also when the pass fails, unless it is cancelled: then nothing is yielded after
        the cancel (a frame computed ahead is dropped, as if the cancel had come before it)."""
        state = self._require_state()
        if self.batch_objects:
            frames = self.predictor.propagate_objects_batched(state, start, count - 1, reverse)
        else:
            frames = self.predictor.propagate_in_video(
                state, start_frame_idx=start, max_frame_num_to_track=count - 1, reverse=reverse
            )
        encoder = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sam2tui-results") if self.pipeline else None
        )
        pending: deque[tuple[int, Future[list[FrameResult]]]] = deque()

        def encode(done: int, obj_ids: list[int], host: _HostFrame) -> Future[list[FrameResult]]:
            if encoder is not None:
                return encoder.submit(self._encode, done, obj_ids, host)
            encoded: Future[list[FrameResult]] = Future()
            try:
                encoded.set_result(self._encode(done, obj_ids, host))
            except Exception as error:  # raised where a results thread's would be: in `ready`
                encoded.set_exception(error)
            return encoded

        def cancelled() -> bool:
            return cancel is not None and cancel.cancelled

        def ready(wait: bool) -> Iterator[list[FrameResult]]:
            while pending and not cancelled():
                if not (wait or pending[0][1].done() or len(pending) > RESULTS_AHEAD):
                    return
                done, future = pending.popleft()
                results = self._note_propagated(future.result(), reverse)
                if not (skip_start and done == start):
                    yield results

        frame = start
        try:
            while not cancelled():
                try:
                    item = self._next_frame(frames, frame)
                except Exception:
                    yield from ready(wait=True)  # the frames finished before the failure
                    raise
                if item is None:
                    break
                done, obj_ids, logits = item
                host = self._to_host(logits, self._scores(done, obj_ids))
                pending.append((done, encode(done, obj_ids, host)))
                self._prune(done, start)
                frame = done + (-1 if reverse else 1)
                yield from ready(wait=False)
            yield from ready(wait=True)
        finally:
            if encoder is not None:
                encoder.shutdown(wait=True, cancel_futures=True)
            frames.close()

    def _next_frame(self, frames: Iterator[Any], frame: int) -> Any:
        try:
            with self._amp():
                return next(frames, None)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            raise EngineError(
                f"out of GPU memory at frame {frame}; try --model sam2.1-tiny or --image-size 512"
            ) from None

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

    def _apply(self, obj_idx: int, step: Prompt, applied: _Applied) -> None:
        """One user action on a frame, through sam2's own call for it (`add_new_mask` or
        `add_new_points_or_box`, which feeds the frame's previous mask logits with all clicks so far)."""
        state = self._require_state()
        frame, obj_id = step.frame, step.obj_id
        tracked = state["frames_tracked_per_obj"][obj_idx]
        # A frame first prompted before any propagation reached it stays an initial conditioning frame
        # (no memory) for all its steps, as a replay into a fresh state computes it.
        note = tracked.pop(frame, None) if applied.initial else None
        try:
            if step.kind is PromptKind.MASK and step.mask is not None:
                self.predictor.add_new_mask(state, frame, obj_id, decode(step.mask))
            elif step.kind is PromptKind.BOX and step.box is not None:
                # sam2 takes a box only as the first prompt of a sequence: it drops the clicks before it
                # (their effect stays in the previous mask logits, which it still refines).
                with self._refining(obj_idx, obj_id, frame, first=not applied.steps):
                    self.predictor.add_new_points_or_box(
                        state, frame, obj_id, box=np.asarray(step.box, np.float32), clear_old_points=True
                    )
            elif step.kind is PromptKind.POINT and step.point is not None and step.label is not None:
                with self._refining(obj_idx, obj_id, frame, first=not applied.steps):
                    self.predictor.add_new_points_or_box(
                        state,
                        frame,
                        obj_id,
                        points=np.asarray([step.point], np.float32),
                        labels=np.asarray([step.label], np.int32),
                        clear_old_points=not applied.steps,
                    )
        finally:
            if note is not None:
                tracked[frame] = note

    def _forget_frame(self, obj_idx: int, obj_id: int, frame: int) -> None:
        """Drop the object's prompt on `frame` and its outputs (what sam2's clear_all_prompts_in_frame does,
        without keeping the prompt's mask as a propagated one).

        sam2's propagated output of the frame, while it holds one, stays: a new prompt there refines it,
        as a click on a propagated frame does in sam2. A frame never propagated becomes an initial
        conditioning frame again, as in a replay.
        """
        state = self._require_state()
        state["point_inputs_per_obj"][obj_idx].pop(frame, None)
        state["mask_inputs_per_obj"][obj_idx].pop(frame, None)
        temp = state["temp_output_dict_per_obj"][obj_idx]
        for kind in ("cond_frame_outputs", "non_cond_frame_outputs"):
            temp[kind].pop(frame, None)
        state["output_dict_per_obj"][obj_idx]["cond_frame_outputs"].pop(frame, None)
        self._applied.pop((obj_id, frame), None)
        tracked = state["frames_tracked_per_obj"][obj_idx]
        propagated = self._propagated.get((obj_id, frame))
        if propagated is None:
            tracked.pop(frame, None)
        else:
            tracked[frame] = propagated[1]

    @contextlib.contextmanager
    def _refining(self, obj_idx: int, obj_id: int, frame: int, first: bool) -> Iterator[None]:
        """Before the first click on a propagated frame whose sam2 output was pruned, show sam2 the
        propagated mask we kept, as sam2 gives a mask prompt: logits of +-10 at a quarter of the input size.

        While sam2 still holds its own output of the frame, it refines that (its own logits) by itself.
        """
        state = self._require_state()
        outputs = state["output_dict_per_obj"][obj_idx]["non_cond_frame_outputs"]
        propagated = self._propagated.get((obj_id, frame)) if first and frame not in outputs else None
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
        """Results on `frame` of every object that has one there: a prompt's output from sam2, else the
        propagated (or resumed) result, else sam2's output."""
        state = self._require_state()
        results: dict[int, FrameResult] = {}
        present = []
        if frame != self._encoded_frame:
            self._encoded.clear()
            self._encoded_frame = frame
        for idx, obj_id in enumerate(state["obj_ids"]):
            out = self._frame_output(idx, frame)
            if (obj_id, frame) in self._propagated and not self._has_prompt(idx, frame):
                results[obj_id] = self._propagated[(obj_id, frame)][0]
            elif out is not None:
                cached = self._encoded.get(obj_id)
                if cached and cached[0] is out["pred_masks"] and cached[1] is out["object_score_logits"]:
                    results[obj_id] = cached[2]
                else:
                    present.append((obj_id, out))
        if present:
            # Each object's masks are upscaled on their own plane: a subset gives the same values.
            low_res = torch.cat([out["pred_masks"] for _, out in present], dim=0)
            _, video_res = self.predictor._get_orig_video_res_output(state, low_res)
            host = self._to_host(video_res, [out["object_score_logits"] for _, out in present])
            encoded = self._encode(frame, [obj_id for obj_id, _ in present], host)
            for (obj_id, out), result in zip(present, encoded, strict=True):
                self._encoded[obj_id] = (out["pred_masks"], out["object_score_logits"], result)
                results[obj_id] = result
        return [results[obj_id] for obj_id in state["obj_ids"] if obj_id in results]

    def _scores(self, frame: int, obj_ids: list[int]) -> list[torch.Tensor | None]:
        """Each object's score logit on a propagated frame, where sam2 has its output (a tensor)."""
        state = self._require_state()
        outs = [self._frame_output(state["obj_id_to_idx"][obj_id], frame) for obj_id in obj_ids]
        return [None if out is None else out["object_score_logits"] for out in outs]

    def _note_propagated(self, results: list[FrameResult], reverse: bool) -> list[FrameResult]:
        """Remember a propagated frame's results for the objects that have no prompt there."""
        state = self._require_state()
        for result in results:
            if not self._has_prompt(state["obj_id_to_idx"][result.obj_id], result.frame):
                self._propagated[(result.obj_id, result.frame)] = (result, {"reverse": reverse})
        return results

    @staticmethod
    def _to_host(logits: torch.Tensor, scores: list[torch.Tensor | None]) -> _HostFrame:
        """Threshold a frame's mask logits where they are and start copying masks and scores to the host
        (on CUDA without waiting: `_encode` waits, on the results thread)."""
        masks = logits[:, 0] > 0
        if masks.device.type != "cuda":
            return _HostFrame(masks, scores, None)
        masks = masks.to("cpu", non_blocking=True)
        scores = [None if score is None else score.to("cpu", non_blocking=True) for score in scores]
        copied = torch.cuda.Event()
        copied.record()
        return _HostFrame(masks, scores, copied)

    def _encode(self, frame: int, obj_ids: list[int], host: _HostFrame) -> list[FrameResult]:
        """A frame's results from its host masks: RLE, box, area, parts (no torch compute: this runs
        beside the model, where a torch op would start an OpenMP team of its own)."""
        if host.copied is not None:
            host.copied.synchronize()
        masks = host.masks.numpy()
        scores = [float("nan") if s is None else float(s.float().item()) for s in host.scores]
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
