"""Shared fixtures for the Python package's tests (issue 17). run_pytest.sh runs them with the
package installed in a virtual environment and passes the CLI to compare against:

    LUMEN_CLI          the built `lumen` binary
    LUMEN_SOURCE_DIR   the repository root (examples/, tests/data/)
"""

import json
import os
import subprocess

import pytest

SOURCE_DIR = os.environ.get("LUMEN_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHAPES = os.path.join(SOURCE_DIR, "examples", "shapes.png")
DATA = os.path.join(SOURCE_DIR, "tests", "data")
SCENES = os.path.join(DATA, "eval", "shapes", "images")
TRUNCATED = os.path.join(DATA, "images", "truncated.jpg")


def scene(number):
    return os.path.join(SCENES, f"scene_{number:04d}.png")


def pytest_configure(config):
    config.addinivalue_line("markers", "parallel: timing of two models in two threads (run alone)")


def run_cli(*args, stdin=None):
    """Runs the built `lumen` with one thread (as the Python models in these tests use) and
    returns its stdout; fails the test on a non-zero exit."""
    cli = os.environ.get("LUMEN_CLI")
    assert cli, "LUMEN_CLI must name the built lumen binary (run_pytest.sh sets it)"
    command = [cli, *args]
    if args[:2] not in (("index", "remove"), ("index", "info")):
        command += ["-t", "1"]
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}): {done.stderr}"
    return done.stdout


def cli_results(*args):
    return json.loads(run_cli(*args))["results"]


@pytest.fixture(scope="session")
def lumen():
    import lumen as package
    # The installed package, not python/ in the source tree.
    assert "site-packages" in package.__file__, package.__file__
    return package


@pytest.fixture(scope="session")
def model(lumen):
    return lumen.Model(threads=1)
