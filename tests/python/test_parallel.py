"""The GIL is released while the library computes: two models answering in two threads at once
take well under twice one model's time (the issue's bound: 1.6x, on 2 cores)."""

import os
import threading
import time

import pytest

from conftest import scene

ROUNDS = 3        # timings on a shared machine are noisy: the best of three rounds counts
QUESTIONS = 30    # per thread: about a second of work for the bundled model


def answer_all(model, images, answers=None):
    for image in images:
        reply = model.ask(image, "Describe the image.")
        if answers is not None:
            answers.append(reply)


@pytest.mark.parallel
def test_two_threads_run_in_parallel(lumen):
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip(f"needs 2 cores, this process may use {cores}")
    models = [lumen.Model(threads=1), lumen.Model(threads=1)]
    images = [[scene(i) for i in range(QUESTIONS)], [scene(i) for i in range(100, 100 + QUESTIONS)]]
    expected = [[], []]
    for model, own, answers in zip(models, images, expected):
        answer_all(model, own, answers)  # warm-up, and the answers each thread must give

    ratios = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        answer_all(models[0], images[0])
        one = time.perf_counter() - start

        got = [[], []]
        threads = [threading.Thread(target=answer_all, args=(models[i], images[i], got[i])) for i in range(2)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        two = time.perf_counter() - start
        assert got == expected  # concurrent answers are the same answers
        ratios.append(two / one)
        print(f"one thread {one:.3f} s, two threads at once {two:.3f} s: {two / one:.2f}x")
        if two / one < 1.6:
            break
    assert min(ratios) < 1.6, f"two threads took {min(ratios):.2f}x one thread's time (rounds: {ratios})"
