"""Bad input raises lumen.Error subclasses with the library's message; nothing crashes."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import DATA, SHAPES, TRUNCATED


def test_missing_file(lumen, model):
    with pytest.raises(lumen.NotFoundError, match=r"/no/such/photo\.png: no such file") as caught:
        model.ask("/no/such/photo.png", "What is this?")
    assert isinstance(caught.value, lumen.Error) and isinstance(caught.value, FileNotFoundError)


def test_truncated_image(lumen, model):
    with pytest.raises(lumen.InvalidInputError, match="truncated") as caught:
        model.ask(TRUNCATED, "What is this?")
    assert TRUNCATED in str(caught.value)
    with open(TRUNCATED, "rb") as f:
        data = f.read()
    with pytest.raises(lumen.InvalidInputError, match="truncated"):
        model.embed_images([data])


def test_bad_model_path(lumen):
    with pytest.raises(lumen.NotFoundError, match="/no/such/model"):
        lumen.Model("/no/such/model")
    with pytest.raises(lumen.Error, match="config.json"):
        lumen.Model(os.path.join(DATA, "images"))  # a folder with no model in it


def test_bad_images(lumen, model):
    with pytest.raises(lumen.InvalidInputError, match="not a JPEG or PNG|unsupported|unknown"):
        model.ask(b"definitely not an image", "?")
    with pytest.raises(lumen.InvalidInputError, match="empty"):
        model.ask(b"", "?")
    with pytest.raises(lumen.InvalidInputError, match="uint8"):
        model.ask(np.zeros((8, 8, 3), dtype=np.float32), "?")
    with pytest.raises(lumen.InvalidInputError, match="shape"):
        model.ask(np.zeros((8, 8, 5), dtype=np.uint8), "?")
    with pytest.raises(lumen.InvalidInputError, match="at least 1"):
        model.ask(np.zeros((0, 8, 3), dtype=np.uint8), "?")
    with pytest.raises(lumen.InvalidInputError, match="expected a path"):
        model.ask(42, "?")
    small = lumen.Model(threads=1, max_pixels=100)
    with pytest.raises(lumen.LimitExceededError, match="more than the limit of 100"):
        small.ask(SHAPES, "?")
    with pytest.raises(lumen.LimitExceededError, match="more than the limit of 100"):
        small.ask(np.zeros((20, 20, 3), dtype=np.uint8), "?")


def test_bad_options(lumen, model):
    with pytest.raises(lumen.InvalidInputError, match="temperature"):
        model.ask(SHAPES, "?", temperature=-1.0)
    with pytest.raises(lumen.InvalidInputError, match="max_tokens"):
        model.ask(SHAPES, "?", max_tokens=-1)
    with pytest.raises(TypeError, match="temprature"):
        model.ask(SHAPES, "?", temprature=0.5)
    with pytest.raises(lumen.LimitExceededError, match="context"):
        model.ask(SHAPES, "word " * 600)
    with pytest.raises(lumen.InvalidInputError, match="unknown weight format 'q3_k'"):
        lumen.Model(quant="q3_k")
    with pytest.raises(lumen.InvalidInputError, match="alpha"):
        lumen.Model(alpha="black")


def test_model_still_works_after_errors(model):
    for bad in ("/no/such.png", TRUNCATED, b"junk"):
        with pytest.raises(Exception):
            model.ask(bad, "?")
    assert model.ask(SHAPES, "Describe the image.").startswith("A small red circle")


def test_interpreter_survives():
    # Every error case in a fresh interpreter, which must then exit normally (a crash would end
    # it with a signal and no "survived" line).
    script = textwrap.dedent(f"""
        import lumen
        model = lumen.Model(threads=1)
        raised = []
        for call in (lambda: model.ask({"/no/such/photo.png"!r}, "?"),
                     lambda: model.ask({TRUNCATED!r}, "?"),
                     lambda: lumen.Model("/no/such/model"),
                     lambda: model.embed_images([b"junk"]),
                     lambda: list(model.stream({TRUNCATED!r}, "?"))):
            try:
                call()
            except lumen.Error as error:
                raised.append(type(error).__name__ + ": " + str(error))
        print("\\n".join(raised))
        print("survived", len(raised))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "survived 5", done.stdout
    assert lines[0].startswith("NotFoundError: /no/such/photo.png")
    assert lines[1].startswith("InvalidInputError: " + TRUNCATED)
