"""Model.caption against `lumen caption`."""

import pytest

from conftest import run_cli, scene


def test_caption_equals_cli_with_progress(model):
    paths = [scene(i) for i in range(5)]
    cli = [line.split("\t", 1) for line in run_cli("caption", "--batch", "2", *paths).splitlines()]
    assert [path for path, _ in cli] == paths
    calls = []
    captions = model.caption(paths, batch=2, progress=lambda done, total: calls.append((done, total)))
    assert captions == [caption for _, caption in cli]
    assert calls == [(i, 5) for i in range(1, 6)]


def test_caption_options_match_cli(model):
    paths = [scene(7), scene(8)]
    cli = [line.split("\t", 1)[1] for line in
           run_cli("caption", "--prompt", "What shapes are there?", "-n", "8", *paths).splitlines()]
    assert model.caption(paths, prompt="What shapes are there?", max_tokens=8) == cli


def test_progress_exception_stops_and_propagates(model):
    seen = []

    def progress(done, total):
        seen.append(done)
        if done == 2:
            raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        model.caption([scene(i) for i in range(6)], batch=3, progress=progress)
    assert seen == [1, 2]


def test_unreadable_image_names_it(lumen, model):
    with pytest.raises(lumen.NotFoundError, match="missing.png"):
        model.caption([scene(0), "/tmp/missing.png"])
