"""The sharp view's encoders (render/sharp.py): each implements the interface, and the canvas uses any of them."""

from __future__ import annotations

import base64
import io
import re
import threading
import time

import numpy as np
import pytest
from PIL import Image
from textual.app import App, ComposeResult
from textual.strip import Strip

from sam2tui.tui.compose import Overlay
from sam2tui.tui.render.halfblock import HalfBlockPainter, quantise
from sam2tui.tui.render.kitty import MAX_CELLS, PLACEHOLDER, KittyEncoder, id_color
from sam2tui.tui.render.sharp import CanvasCells, SharpEncoder
from sam2tui.tui.render.sixel import ORIGIN, SixelEncoder, encode_sixel
from sam2tui.tui.viewport import Viewport
from sam2tui.tui.widgets.frame_canvas import FrameCanvas
from tests.test_frame_canvas import SIZE, gradient_frame, tail_text, wait_for

CELL = (10, 20)
CELLS = CanvasCells(4, 1, "truecolor")  # 4x1 cells of 10x20 pixels: a 40x20 image


def three_colours() -> np.ndarray:
    """40x20 RGB: red and blue halves over a green bottom half (colours every palette keeps exactly)."""
    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)
    rgb[:, 20:] = (0, 0, 255)
    rgb[10:] = (0, 255, 0)
    return rgb


def decode_sixel(data: str) -> np.ndarray:
    """A DCS ... q ... ST Sixel image (raster attributes, RGB colour registers, RLE) -> HxWx3 RGB."""
    match = re.fullmatch(r'\x1bP[0-9;]*q"1;1;(\d+);(\d+)(.*)\x1b\\', data, re.S)
    assert match is not None, data[:40]
    width, height = int(match.group(1)), int(match.group(2))
    image = np.zeros((height, width, 3), np.uint8)
    registers: dict[int, tuple[int, int, int]] = {}
    colour, x, band = 0, 0, 0
    tokens = r"#(\d+)(?:;2;(\d+);(\d+);(\d+))?|!(\d+)([?-~])|([?-~])|(\$)|(-)"
    for token in re.finditer(tokens, match.group(3)):
        number, r, g, b, count, repeated, single, carriage, newline = token.groups()
        if number is not None:
            colour = int(number)
            if r is not None:
                registers[colour] = tuple(round(int(c) * 255 / 100) for c in (r, g, b))  # type: ignore[assignment]
        elif carriage:
            x = 0
        elif newline:
            x, band = 0, band + 1
        else:
            char, times = (repeated, int(count)) if repeated else (single, 1)
            bits = ord(char) - 0x3F
            for dy in range(6):
                if bits >> dy & 1 and band * 6 + dy < height:
                    image[band * 6 + dy, x : x + times] = registers[colour]
            x += times
    return image


def kitty_commands(data: str) -> list[tuple[dict[str, str], str]]:
    """The APC graphics commands in `data`: (keys, payload) each, and nothing else in between."""
    commands = re.findall(r"\x1b_G([^;\x1b]*)(?:;([^\x1b]*))?\x1b\\", data)
    assert "".join(f"\x1b_G{k};{p}\x1b\\" if p else f"\x1b_G{k}\x1b\\" for k, p in commands) == data
    return [(dict(kv.split("=") for kv in keys.split(",")), payload) for keys, payload in commands]


@pytest.mark.parametrize("kind", [SixelEncoder, KittyEncoder])
def test_each_encoder_is_a_sharp_encoder_named_as_its_renderer(kind: type[SharpEncoder]) -> None:
    encoder = kind(CELL)
    assert isinstance(encoder, SharpEncoder) and encoder.name in ("sixel", "kitty")
    assert encoder.can_show(CELLS)
    view = Viewport(320, 160, 4, 2)  # more video pixels than the cells have: the cells' own size
    assert encoder.image_size(CELLS, view) == (40, 20)


def test_sixel_encodes_a_decodable_image_drawn_from_the_last_row() -> None:
    encoder = SixelEncoder(CELL)
    data = encoder.encode(three_colours(), CELLS)
    assert data.startswith("\x1bP") and "q" in data[:12] and data.endswith("\x1b\\")
    assert (decode_sixel(data) == three_colours()).all()
    cells = CanvasCells(3, 2, "256")
    half_blocks = [HalfBlockPainter().strip(row) for row in quantise(np.full((4, 3, 3), 99, np.uint8))]
    assert encoder.rows_changed(cells) == range(1, 2)  # the half blocks stay; only the last row changes
    assert encoder.line(0, half_blocks[0], data, cells, (5, 7)) is half_blocks[0]
    last = encoder.line(1, half_blocks[1], data, cells, (5, 7))
    assert last.cell_length == 3 and list(last)[:-1] == list(half_blocks[1])
    assert tail_text(last) == f"\x1b7\x1b[8;6H{data}\x1b8"  # at the canvas's top-left, cursor put back


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (13, 33), (12, 40)])
def test_our_sixel_encoder_draws_every_pixel_in_its_palette_colour(size: tuple[int, int]) -> None:
    # Random pixels: many colours per band, runs of one, heights that end inside a band.
    rgb = np.random.default_rng(size[0]).integers(0, 256, (*size, 3), dtype=np.uint8)
    image = Image.fromarray(rgb).quantize(256, method=Image.Quantize.FASTOCTREE)
    palette = np.asarray(image.getpalette(), np.int32).reshape(-1, 3)
    expected = np.round((palette * 100 + 127) // 255 * 255 / 100).astype(np.uint8)[np.asarray(image)]
    assert (decode_sixel(encode_sixel(rgb)) == expected).all()


def test_our_sixel_encoder_writes_long_runs_as_repeats() -> None:
    rgb = np.zeros((12, 300, 3), np.uint8)
    rgb[:, 100:] = (255, 255, 255)
    data = encode_sixel(rgb)
    assert (decode_sixel(data) == rgb).all()
    assert "!100~" in data and "!200~" in data and len(data) < 120  # two bands, two colours
    # Colours side by side in a band follow on from each other: no carriage return, no skip from column 0.
    stripes = np.zeros((6, 30, 3), np.uint8)
    stripes[:, :10], stripes[:, 10:20], stripes[:, 20:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    data = encode_sixel(stripes)
    assert (decode_sixel(data) == stripes).all()
    assert "$" not in data and re.search(r"#\d!10~#\d!10~#\d!10~\x1b", data)


def test_kitty_transmits_the_png_in_base64_chunks_and_places_it_over_the_cells() -> None:
    encoder = KittyEncoder(CELL)
    commands = kitty_commands(encoder.encode(three_colours(), CELLS))
    *chunks, place = commands
    ident = chunks[0][0]["i"]
    assert chunks[0][0]["a"] == "t" and chunks[0][0]["f"] == "100"
    assert [keys["m"] for keys, _ in chunks] == ["1"] * (len(chunks) - 1) + ["0"]
    assert all(len(payload) <= 4096 for _, payload in chunks)
    png = base64.standard_b64decode("".join(payload for _, payload in chunks))
    assert png.startswith(b"\x89PNG")
    assert (np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) == three_colours()).all()
    assert place[0] == {"a": "p", "U": "1", "i": ident, "c": "4", "r": "1", "q": "2"}


def test_kitty_rows_are_placeholders_in_the_image_colour() -> None:
    encoder = KittyEncoder(CELL)
    data = encoder.encode(three_colours(), CELLS)
    ident = int(kitty_commands(data)[0][0]["i"])
    cells = CanvasCells(3, 2, "truecolor")
    assert encoder.rows_changed(cells) == range(2)
    blank = Strip.blank(3)
    first, last = (encoder.line(y, blank, data, cells, (0, 0)) for y in range(2))
    assert tail_text(first) == "" and tail_text(last) == data
    for row in (first, last):
        text = "".join(segment.text for segment in row if not segment.control)
        assert text.startswith(PLACEHOLDER) and text.count(PLACEHOLDER) == 3 and row.cell_length == 3
        assert next(iter(row)).style.color == id_color(ident, truecolor=True)  # type: ignore[union-attr]


def test_kitty_sends_no_more_pixels_than_the_video_has_and_needs_a_colour_for_its_id() -> None:
    encoder = KittyEncoder(CELL)
    assert encoder.image_size(CELLS, Viewport(8, 4, 4, 2)) == (8, 4)  # 2 video pixels per cell
    assert not encoder.can_show(CanvasCells(4, 1, "standard"))
    assert encoder.can_show(CanvasCells(4, 1, "256"))
    assert not encoder.can_show(CanvasCells(MAX_CELLS + 1, 1, "truecolor"))
    other = KittyEncoder(CELL)  # another canvas's: another image id
    assert other.encode(three_colours(), CELLS) != encoder.encode(three_colours(), CELLS)


class MarkerEncoder(SharpEncoder):
    """An encoder the canvas has never heard of: an OSC-style marker with the picture's size and mean colour.

    Records the threads it encoded on; `delay` holds an encode back (to switch encoders meanwhile).
    """

    name = "marker"

    def __init__(self, cell_size: tuple[int, int], delay: float = 0.0) -> None:
        super().__init__(cell_size)
        self.delay = delay
        self.threads: list[threading.Thread] = []

    def encode(self, rgb: np.ndarray, cells: CanvasCells) -> str:
        self.threads.append(threading.current_thread())
        time.sleep(self.delay)
        mean = ",".join(str(round(c)) for c in rgb.reshape(-1, 3).mean(axis=0))
        return f"\x1b]marker;{rgb.shape[1]}x{rgb.shape[0]};{mean}\x07"

    def rows_changed(self, cells: CanvasCells) -> range:
        return range(cells.rows - 1, cells.rows)

    def text_row(self, y: int, half_blocks: Strip, cells: CanvasCells) -> Strip:
        return half_blocks

    def placed(self, image: str, origin: tuple[int, int]) -> str:
        return image


class EncoderApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FrameCanvas(encoder=MarkerEncoder(CELL), id="canvas")

    def on_mount(self) -> None:
        self.query_one(FrameCanvas).show(0, gradient_frame(), Overlay())


async def test_the_canvas_switches_encoders_without_knowing_their_kind() -> None:
    app = EncoderApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        marker = canvas.encoder
        assert isinstance(marker, MarkerEncoder) and canvas.renderer == "marker"
        await wait_for(pilot, lambda: tail_text(canvas.render_line(23)) != "")
        assert tail_text(canvas.render_line(23)).startswith("\x1b]marker;800x480;")
        assert marker.threads and threading.main_thread() not in marker.threads  # encoded in a worker

        canvas.set_encoder(SixelEncoder(CELL))
        assert canvas.renderer == "sixel" and tail_text(canvas.render_line(23)) == ""  # half blocks at once
        await wait_for(pilot, lambda: tail_text(canvas.render_line(23)) != "")
        assert '"1;1;800;480' in tail_text(canvas.render_line(23))

        canvas.set_encoder(None)
        assert canvas.renderer == "halfblock" and tail_text(canvas.render_line(23)) == ""
        await pilot.pause(0.4)
        assert tail_text(canvas.render_line(23)) == ""


async def test_a_switch_during_an_encode_shows_the_new_encoders_image() -> None:
    app = EncoderApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        slow = MarkerEncoder(CELL, delay=0.5)
        canvas.set_encoder(slow)
        await wait_for(pilot, lambda: bool(slow.threads))  # encoding now
        canvas.set_encoder(SixelEncoder(CELL))
        await wait_for(pilot, lambda: tail_text(canvas.render_line(23)).startswith("\x1b7"))
        assert "marker" not in tail_text(canvas.render_line(23))


def test_kitty_updates_only_the_rectangle_that_changed() -> None:
    encoder = KittyEncoder(CELL)
    before = three_colours()
    after = before.copy()
    after[3:7, 12:30] = (255, 255, 0)
    ident = kitty_commands(encoder.encode(before, CELLS))[0][0]["i"]
    commands = kitty_commands(encoder.encode_update(before, after, CELLS) or "")
    keys = commands[0][0]
    assert (keys["a"], keys["i"], keys["r"], keys["x"], keys["y"], keys["X"]) == (
        "f",
        ident,
        "1",
        "12",
        "3",
        "1",
    )
    png = base64.standard_b64decode("".join(payload for _, payload in commands))
    assert (np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) == after[3:7, 12:30]).all()
    assert encoder.encode_update(before, before.copy(), CELLS) == ""  # nothing changed: nothing to send
    assert encoder.encode_update(before, before[::-1].copy(), CELLS) is None  # most of it: the whole image


def test_sixel_updates_only_the_cells_that_changed() -> None:
    encoder = SixelEncoder(CELL)
    cells = CanvasCells(4, 2, "truecolor")  # 40x40 pixels
    before = np.zeros((40, 40, 3), np.uint8)
    after = before.copy()
    after[23:27, 12:19] = (255, 255, 0)  # inside cell (1, 1)
    update = encoder.encode_update(before, after, cells)
    assert update is not None
    # From the canvas's top-left to the changed cell: that cell; then from the top-left again to the last
    # text row (Textual rewrites it as half blocks before the update): the whole row.
    changed, last_row = update.split(ORIGIN)
    assert changed.startswith("\x1b[1B\x1b[1C\x1bP") and last_row.startswith("\x1b[1B\x1bP")
    assert (decode_sixel(changed[len("\x1b[1B\x1b[1C") :]) == after[20:40, 10:20]).all()
    assert (decode_sixel(last_row[len("\x1b[1B") :]) == after[20:40]).all()
    placed = encoder.placed(update, (5, 7))
    assert placed == f"\x1b7\x1b[8;6H{changed}\x1b[8;6H{last_row}\x1b8"
    assert encoder.encode_update(before, before.copy(), cells) == ""
    assert encoder.encode_update(before, 255 - before, cells) is None  # all of it: the whole image


async def test_a_click_on_the_kitty_image_sends_only_an_update(monkeypatch: pytest.MonkeyPatch) -> None:
    from sam2tui.tui.compose import PointLayer

    monkeypatch.setenv("COLORTERM", "truecolor")
    app = EncoderApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        canvas.set_encoder(KittyEncoder(CELL))
        await wait_for(pilot, lambda: "a=t," in tail_text(canvas.render_line(23)))
        canvas.show(0, gradient_frame(), Overlay(points=(PointLayer(100, 60, True, (230, 159, 0)),)))
        # The image stays on screen meanwhile (placeholders), then an edit of it rides on the last row.
        assert PLACEHOLDER in "".join(s.text for s in canvas.render_line(5))
        await wait_for(pilot, lambda: "a=f," in tail_text(canvas.render_line(23)))
        update = tail_text(canvas.render_line(23))
        assert "a=t," not in update and len(update) < 10_000
        # Another frame replaces the image: half blocks at once, then the whole image.
        canvas.show(1, gradient_frame()[::-1].copy(), Overlay())
        assert PLACEHOLDER not in "".join(s.text for s in canvas.render_line(5))
        await wait_for(pilot, lambda: "a=t," in tail_text(canvas.render_line(23)))


async def test_a_click_on_the_sixel_image_draws_only_the_cells_that_changed() -> None:
    from sam2tui.tui.compose import PointLayer

    app = EncoderApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        canvas.set_encoder(SixelEncoder(CELL))
        await wait_for(pilot, lambda: '"1;1;800;480' in tail_text(canvas.render_line(23)))
        whole = tail_text(canvas.render_line(23))
        canvas.show(0, gradient_frame(), Overlay(points=(PointLayer(100, 60, True, (230, 159, 0)),)))
        assert tail_text(canvas.render_line(23)) == whole  # the image stays until its update is ready
        await wait_for(pilot, lambda: tail_text(canvas.render_line(23)) != whole)
        update = tail_text(canvas.render_line(23))
        # From the canvas's top-left down and right to the changed cells, then a small image.
        assert (
            re.match(r"\x1b7\x1b\[1;1H\x1b\[\d+B\x1b\[\d+C\x1bP", update) and len(update) < len(whole) // 10
        )
