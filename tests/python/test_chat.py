"""Model.chat(): the same replies as `lumen chat`, with the KV cache kept between turns."""

import pytest

from conftest import SHAPES, run_cli, scene


def test_chat_equals_cli_and_reuses_the_cache(model):
    lines = ["Describe the image.", "What color is the circle at the top?", "/image " + scene(5),
             "Describe the image."]
    cli = run_cli("chat", "-i", SHAPES, stdin="\n".join(lines) + "\n").splitlines()
    assert len(cli) == 3

    chat = model.chat()
    first = chat.send(lines[0], images=[SHAPES])
    usage = chat.last_usage
    assert usage["cached_positions"] == 0 and usage["prefilled_positions"] == usage["prompt_positions"]
    assert first == cli[0]

    second = chat.send(lines[1])
    assert second == cli[1]
    reused = chat.last_usage
    # The whole first turn (its prompt and its reply but the reply's last token) is reused:
    # only the new user message is prefilled.
    assert reused["cached_positions"] == usage["prompt_positions"] + usage["completion_tokens"] - 1
    assert reused["prefilled_positions"] == reused["prompt_positions"] - reused["cached_positions"]
    assert 0 < reused["prefilled_positions"] < 40 < reused["prompt_positions"]

    chat.attach(scene(5))
    assert chat.pending_images == 1
    third = chat.send(lines[3])
    assert third == cli[2]
    assert chat.last_usage["prefilled_positions"] > model.tokens_per_image  # the new image
    assert [role for role, _ in chat.history] == ["user", "assistant"] * 3
    assert chat.history[3] == ("assistant", second)


def test_streamed_turns(model):
    chat = model.chat()
    reference = model.chat()
    pieces = list(chat.stream("Describe the image.", images=SHAPES))
    assert len(pieces) > 1
    assert "".join(pieces) == reference.send("Describe the image.", images=SHAPES)
    assert chat.send("Is there a circle?") == reference.send("Is there a circle?")


def test_clear_starts_over(model):
    chat = model.chat()
    chat.send("Describe the image.", images=[scene(1)])
    chat.clear()
    assert chat.history == [] and chat.cached_positions == 0
    assert chat.send("Describe the image.", images=[SHAPES]) == model.ask(SHAPES, "Describe the image.")


def test_failed_turn_changes_nothing(lumen, model):
    chat = model.chat()
    answer = chat.send("Describe the image.", images=[SHAPES])
    with pytest.raises(lumen.NotFoundError, match="no-such.png"):
        chat.send("And this one?", images=["/no-such.png"])
    assert chat.history == [("user", "Describe the image."), ("assistant", answer)]
    with pytest.raises(lumen.LimitExceededError, match="context"):
        chat.send("word " * 600)
    assert len(chat.history) == 2
    # The next turn still matches a conversation that never saw the failures.
    reference = model.chat()
    reference.send("Describe the image.", images=[SHAPES])
    assert chat.send("What is at the top?") == reference.send("What is at the top?")
