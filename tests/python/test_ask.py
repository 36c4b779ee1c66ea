"""Model.ask and Model.stream against `lumen ask`, for every kind of image input."""

import io

import numpy as np
import pytest
from PIL import Image

from conftest import DATA, SHAPES, run_cli, scene

QUESTION = "Describe the image."


@pytest.fixture(scope="module")
def cli_answer():
    answer = run_cli("ask", "-i", SHAPES, QUESTION).removesuffix("\n")
    assert answer.startswith("A small red circle")  # README's demo answer
    return answer


def test_ask_equals_cli(model, cli_answer):
    assert model.ask(SHAPES, QUESTION) == cli_answer


def test_stream_pieces_join_to_cli_answer(model, cli_answer):
    pieces = list(model.stream(SHAPES, QUESTION))
    assert len(pieces) > 5, pieces
    assert all(isinstance(piece, str) and piece for piece in pieces)
    assert "".join(pieces) == cli_answer


def test_bytes_input(model, cli_answer):
    with open(SHAPES, "rb") as f:
        data = f.read()
    assert model.ask(data, QUESTION) == cli_answer
    assert model.ask(bytearray(data), QUESTION) == cli_answer


def test_numpy_rgb_input(model, cli_answer):
    pixels = np.asarray(Image.open(SHAPES).convert("RGB"))
    assert pixels.shape[2] == 3 and pixels.dtype == np.uint8
    assert model.ask(pixels, QUESTION) == cli_answer
    assert np.array_equal(model.decode_image(pixels), model.decode_image(SHAPES))


def test_numpy_rgba_input_drops_alpha(model, cli_answer):
    rgb = np.asarray(Image.open(SHAPES).convert("RGB"))
    alpha = np.random.default_rng(0).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    rgba = np.dstack([rgb, alpha])
    assert model.ask(rgba, QUESTION) == cli_answer
    assert np.array_equal(model.preprocess(rgba), model.preprocess(SHAPES))


def test_non_contiguous_array(model, cli_answer):
    rgb = np.asarray(Image.open(SHAPES).convert("RGB"))
    flipped_twice = np.ascontiguousarray(rgb[:, ::-1])[:, ::-1]  # a strided view
    assert not flipped_twice.flags["C_CONTIGUOUS"]
    assert model.ask(flipped_twice, QUESTION) == cli_answer


def test_pil_input(model, cli_answer):
    assert model.ask(Image.open(SHAPES), QUESTION) == cli_answer


@pytest.mark.parametrize("name", ["palette_color.png", "camera.png", "chelsea.png"])
def test_pil_and_array_decode_like_the_file(model, name):
    path = f"{DATA}/images/{name}"
    from_file = model.decode_image(path)
    assert np.array_equal(model.decode_image(Image.open(path)), from_file)
    assert np.array_equal(model.preprocess(Image.open(path)), model.preprocess(path))


def test_alpha_white_array_matches_png(lumen, tmp_path):
    # An RGBA PNG and the same pixels as an array must composite onto white identically.
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    rgba[0, :, 3] = 0
    rgba[1, :, 3] = 255
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    white = lumen.Model(threads=1, alpha="white")
    from_png = white.decode_image(path)
    assert np.array_equal(white.decode_image(rgba), from_png)
    assert np.array_equal(white.decode_image(Image.open(path)), from_png)
    assert (from_png[0] == 255).all()
    gray_alpha = rgba[:, :, [0, 3]]
    Image.fromarray(gray_alpha, "LA").save(tmp_path / "la.png")
    assert np.array_equal(white.decode_image(gray_alpha), white.decode_image(tmp_path / "la.png"))


def test_sampling_options_match_cli(model):
    cli = run_cli("ask", "-i", SHAPES, "--temperature", "0.9", "--top-k", "40", "--seed", "7", "-n", "12",
                  QUESTION).removesuffix("\n")
    assert model.ask(SHAPES, QUESTION, temperature=0.9, top_k=40, seed=7, max_tokens=12) == cli
    cli_stop = run_cli("ask", "-i", SHAPES, "--stop", " and", QUESTION).removesuffix("\n")
    assert model.ask(SHAPES, QUESTION, stop=" and") == cli_stop == "A small red circle at the top"


def test_text_only_and_several_images(model):
    assert model.ask(None, "Hello") == run_cli("ask", "Hello").removesuffix("\n")
    two = [scene(3), scene(4)]
    cli = run_cli("ask", "-i", two[0], "-i", two[1], "What is in the second image?").removesuffix("\n")
    assert model.ask(two, "What is in the second image?") == cli


def test_stream_closed_early_cancels(model, cli_answer):
    stream = model.stream(SHAPES, QUESTION)
    first = next(stream)
    assert first == "A"
    stream.close()
    assert model.ask(SHAPES, QUESTION) == cli_answer  # the model is free again


def test_png_bytes_from_pil(model, cli_answer):
    buffer = io.BytesIO()
    Image.open(SHAPES).save(buffer, format="PNG")
    assert model.ask(buffer.getvalue(), QUESTION) == cli_answer


def test_help_is_useful(lumen):
    doc = lumen.Model.ask.__doc__
    assert "lumen ask" in doc and "temperature" in doc and "NumPy" in doc
    assert "{sampling}" not in lumen.Model.stream.__doc__


def test_quant_matches_cli(lumen):
    quantized = lumen.Model(threads=1, quant="q8_0")
    cli = run_cli("ask", "--quant", "q8_0", "-i", SHAPES, QUESTION).removesuffix("\n")
    assert quantized.ask(SHAPES, QUESTION) == cli
    per_part = lumen.Model(threads=1, quant={"llm": "q4_0"})
    assert per_part.ask(SHAPES, QUESTION) == run_cli("ask", "--quant-llm", "q4_0", "-i", SHAPES,
                                                      QUESTION).removesuffix("\n")
