"""Model.embed_images / embed_texts against `lumen embed --npy`."""

import os

import numpy as np
import pytest

from conftest import DATA, SHAPES, run_cli, scene

SIGLIP = os.path.join(DATA, "fixtures", "siglip-tiny")


def cli_npy(tmp_path, *args):
    out = tmp_path / "cli.npy"
    run_cli("embed", *args, "--npy", str(out))
    return np.load(out)


def test_embed_images_equal_cli(model, tmp_path):
    paths = [SHAPES, scene(0), scene(11)]
    expected = cli_npy(tmp_path, *[arg for path in paths for arg in ("--image", path)])
    got = model.embed_images(paths)
    assert got.dtype == np.float32 and got.shape == expected.shape == (3, model.embedding_dim)
    assert np.abs(got - expected).max() <= 1e-6
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_embed_texts_equal_cli(model, tmp_path):
    texts = ["a red circle", "a large blue square at the bottom"]
    expected = cli_npy(tmp_path, *[arg for text in texts for arg in ("--text", text)])
    got = model.embed_texts(texts)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-6
    assert np.array_equal(model.embed_texts("a red circle")[0], got[0])


def test_prompt_method_equals_cli(model, tmp_path):
    expected = cli_npy(tmp_path, "--method", "prompt", "--image", SHAPES, "--text", "a red circle")
    got = np.vstack([model.embed_images(SHAPES, method="prompt"), model.embed_texts(["a red circle"], method="prompt")])
    assert np.abs(got - expected).max() <= 1e-6


def test_siglip_dual_encoder(lumen, tmp_path):
    siglip = lumen.Model(SIGLIP, threads=1)
    assert not siglip.has_language_model and siglip.embedding_method == "siglip"
    expected = cli_npy(tmp_path, "-m", SIGLIP, "--image", SHAPES, "--text", "a photo of a cat")
    got = np.vstack([siglip.embed_images([SHAPES]), siglip.embed_texts(["a photo of a cat"])])
    assert np.abs(got - expected).max() <= 1e-6
    with pytest.raises(lumen.InvalidInputError, match="no language model"):
        siglip.ask(SHAPES, "What is this?")


def test_empty_inputs(model):
    assert model.embed_images([]).shape == (0, model.embedding_dim)
    assert model.embed_texts([]).shape == (0, model.embedding_dim)
