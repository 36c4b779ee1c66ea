"""Lumen: small vision-language models (Imp: SigLIP + projector + Phi-2) on your own machine.

    import lumen
    model = lumen.Model()                      # the bundled imp-shapes model; or Model("imp-v1-3b")
    model.ask("examples/shapes.png", "Describe the image.")
    for piece in model.stream("examples/shapes.png", "How many objects are there?"):
        print(piece, end="", flush=True)
    chat = model.chat()
    chat.send("What is at the top?", images=["examples/shapes.png"])
    chat.send("And at the bottom?")            # prefills only the new turn
    model.caption(["a.png", "b.jpg"], batch=8)
    model.embed_images(["a.png"]), model.embed_texts(["a red circle"])   # float32, L2-normalised
    index = lumen.Index.build("catalog.jsonl", model)
    index.search(text="a red circle", k=5)
    index.recommend(liked=["scene_0002"], diversity=0.3)

Images may be paths, bytes, NumPy uint8 arrays (HxWx3 or HxWx4) or PIL images, and get the
same preprocessing as the ``lumen`` CLI, so the same image gives the same answer. Errors are
:class:`lumen.Error` subclasses carrying the library's message.
"""

from . import _lumen
from ._errors import Error, InternalError, InvalidInputError, IOError, LimitExceededError, NotFoundError
from ._index import Index
from ._model import Chat, Model, bundled_model_path

_lumen._set_error_classes(InvalidInputError, NotFoundError, LimitExceededError, IOError, InternalError)

__version__ = _lumen.version


def set_threads(threads):
    """Sets the number of worker threads of the library's process-wide pool (shared by every
    model). Waits for running computations to finish first."""
    _lumen.set_threads(int(threads))


def get_threads():
    """The number of worker threads of the library's pool."""
    return _lumen.get_threads()


__all__ = [
    "Model", "Chat", "Index", "Error", "InvalidInputError", "NotFoundError", "LimitExceededError", "IOError",
    "InternalError", "bundled_model_path", "set_threads", "get_threads", "__version__",
]
