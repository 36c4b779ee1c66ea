"""lumen.Index against `lumen index`, `lumen search` and `lumen recommend` over 50 eval scenes."""

import json

import pytest

from conftest import SHAPES, cli_results, run_cli, scene

N = 50


def assert_same_results(got, expected):
    assert [r["id"] for r in got] == [r["id"] for r in expected]
    for g, e in zip(got, expected):
        assert g["score"] == pytest.approx(e["score"], abs=1e-6)
        assert {k: v for k, v in g.items() if k != "score"} == {k: v for k, v in e.items() if k != "score"}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("catalog") / "scenes.jsonl"
    with open(path, "w") as f:
        for i in range(N):
            f.write(json.dumps({"id": f"scene_{i:04d}", "image": scene(i), "split": "eval", "n": i}) + "\n")
    return path


@pytest.fixture(scope="module")
def cli_index(catalog, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "scenes.idx"
    run_cli("index", "build", str(catalog), "-o", str(path))
    return path


@pytest.fixture(scope="module")
def index(lumen, model, catalog):
    calls = []
    built = lumen.Index.build(catalog, model, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (N, N) and len(calls) == 7  # batches of 8
    return built


QUERIES = ["a red circle", "a blue square", "a small green triangle at the top", "yellow"]


@pytest.mark.parametrize("text", QUERIES)
def test_text_search_equals_cli(index, cli_index, text):
    got = index.search(text=text, k=10)
    assert len(got) == 10
    assert_same_results(got, cli_results("search", str(cli_index), "--text", text, "-k", "10"))


def test_image_search_equals_cli(index, cli_index):
    for query in (scene(7), SHAPES):
        assert_same_results(index.search(image=query, k=5),
                            cli_results("search", str(cli_index), "--image", query, "-k", "5"))


@pytest.mark.parametrize("liked, disliked, text, diversity", [
    (["scene_0002", "scene_0006"], ["scene_0010"], None, 0.0),
    (["scene_0002", "scene_0006"], [], None, 0.3),
    (["scene_0001"], ["scene_0003"], "something blue", 0.5),
    ([], [], "a red circle", 0.0),
])
def test_recommend_equals_cli(index, cli_index, liked, disliked, text, diversity):
    args = ["recommend", str(cli_index), "-k", "10", "--diversity", str(diversity)]
    if liked:
        args += ["--liked", ",".join(liked)]
    if disliked:
        args += ["--disliked", ",".join(disliked)]
    if text:
        args += ["--text", text]
    got = index.recommend(liked, disliked, text=text, k=10, diversity=diversity)
    assert_same_results(got, cli_results(*args))
    assert not {r["id"] for r in got} & set(liked + disliked)


def test_items_from_dicts_equal_catalog_file(lumen, model, index):
    items = [{"id": f"scene_{i:04d}", "image": scene(i), "split": "eval", "n": i} for i in range(N)]
    from_dicts = lumen.Index.build(items, model)
    assert len(from_dicts) == N and from_dicts.dim == index.dim and from_dicts.mode == "exact"
    assert_same_results(from_dicts.search(text="a red circle"), index.search(text="a red circle"))
    assert from_dicts.get("scene_0003") == items[3]


def test_save_load_and_the_cli_reads_it(lumen, model, index, cli_index, tmp_path):
    saved = tmp_path / "py.idx"
    index.save(saved)
    # The CLI answers from the Python-built index exactly as from its own.
    assert_same_results(cli_results("search", str(saved), "--text", "a red circle"),
                        cli_results("search", str(cli_index), "--text", "a red circle"))
    loaded = lumen.Index.load(saved, model)
    assert len(loaded) == N and "scene_0049" in loaded and "scene_0050" not in loaded
    assert_same_results(loaded.search(text="a blue square"), index.search(text="a blue square"))
    # Without a model, the one the index records is loaded when a query needs it.
    assert_same_results(lumen.Index.load(saved).search(text="yellow"), index.search(text="yellow"))
    assert lumen.Index.load(cli_index).embedder["method"] == "caption"


def test_add_and_remove_equal_cli(lumen, model, catalog, cli_index, tmp_path):
    cli_copy = tmp_path / "cli.idx"
    run_cli("index", "build", str(catalog), "-o", str(cli_copy))
    more = tmp_path / "more.jsonl"
    extra = [{"id": f"scene_{i:04d}", "image": scene(i)} for i in (50, 51, 52)]
    extra.append({"id": "scene_0004", "image": scene(60)})  # replaces an existing id
    more.write_text("".join(json.dumps(item) + "\n" for item in extra))
    run_cli("index", "add", str(cli_copy), str(more))
    run_cli("index", "remove", str(cli_copy), "scene_0001,scene_0009")

    py_index = lumen.Index.load(cli_index, model)  # changed in memory only
    assert py_index.add(more) == 1
    py_index.remove(["scene_0001", "scene_0009"])
    assert len(py_index) == N + 3 - 2 and "scene_0001" not in py_index
    for text in QUERIES:
        assert_same_results(py_index.search(text=text, k=10),
                            cli_results("search", str(cli_copy), "--text", text, "-k", "10"))
    with pytest.raises(lumen.NotFoundError, match="scene_0001"):
        py_index.remove("scene_0001")


def test_bad_queries(lumen, index):
    with pytest.raises(lumen.InvalidInputError, match="exactly one"):
        index.search(text="a", image=SHAPES)
    with pytest.raises(lumen.NotFoundError, match="nope"):
        index.recommend(["nope"])
    with pytest.raises(lumen.InvalidInputError, match="duplicate id"):
        lumen.Index.build([{"id": 1, "text": "a"}, {"id": 1, "text": "b"}], index.model)
