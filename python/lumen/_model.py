"""lumen.Model and lumen.Chat: question answering, captions, chat and embeddings."""

import os
import queue
import threading

from . import _lumen
from ._errors import InvalidInputError, NotFoundError
from ._images import image_arg, image_list

_SAMPLING_DEFAULTS = {
    "max_tokens": 256,
    "temperature": 0.0,
    "top_k": 0,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "seed": 0,
    "stop": None,
    "ignore_eos": False,
}

_SAMPLING_DOC = """
        Sampling keywords (as the CLI's options; the defaults give greedy answers identical to
        ``lumen ask``): ``max_tokens`` (256), ``temperature`` (0 = greedy), ``top_k`` (0 = off),
        ``top_p`` (1 = off), ``repetition_penalty`` (1 = off), ``seed`` (0), ``stop`` (a string
        or a list of them: the reply ends before the first), ``ignore_eos`` (False)."""


def _with_sampling_doc(function):
    """Puts the sampling keywords' description where a docstring says {sampling}."""
    function.__doc__ = function.__doc__.replace("{sampling}", _SAMPLING_DOC.strip())
    return function


def _sampling(method, sampling):
    unknown = sorted(set(sampling) - set(_SAMPLING_DEFAULTS))
    if unknown:
        raise TypeError(f"{method}() got unexpected keyword argument(s) {', '.join(unknown)}; "
                        f"sampling keywords are {', '.join(_SAMPLING_DEFAULTS)}")
    options = dict(sampling)
    stop = options.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif stop is not None:
        options["stop"] = list(stop)
    return options


def bundled_model_path():
    """The directory of the bundled model (``models/imp-shapes``): ``$LUMEN_MODEL_DIR`` when
    set, else the copy installed with the package, else the source tree's. Raises
    :class:`lumen.NotFoundError` when none exists."""
    env = os.environ.get("LUMEN_MODEL_DIR")
    if env:
        return env
    packaged = os.path.join(os.path.dirname(__file__), "models", "imp-shapes")
    for candidate in (packaged, _lumen.source_model_dir()):
        if os.path.isfile(os.path.join(candidate, "config.json")):
            return candidate
    raise NotFoundError("the bundled model is not installed (looked in "
                        f"{packaged} and {_lumen.source_model_dir()}); pass a model directory")


def _stream(run):
    """Runs ``run(on_text)`` on a worker thread and yields the pieces it passes to on_text,
    without the template's leading space (as ``lumen ask`` prints them). Closing the iterator
    early cancels the generation at its next token."""
    pieces = queue.SimpleQueue()
    stop = threading.Event()
    done = object()

    def on_text(piece):
        if stop.is_set():
            return False
        pieces.put(piece)
        return True

    def worker():
        try:
            run(on_text)
            pieces.put(done)
        except BaseException as error:  # handed to the consumer, raised there
            pieces.put(_Failure(error))

    def iterate():
        thread = threading.Thread(target=worker, name="lumen-stream", daemon=True)
        thread.start()
        started = False
        try:
            while True:
                item = pieces.get()
                if item is done:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                if not started:
                    item = item.lstrip(" ")
                    if not item:
                        continue
                    started = True
                yield item
        finally:
            stop.set()
            thread.join()

    return iterate()


class _Failure:
    def __init__(self, error):
        self.error = error


class Model:
    """A loaded checkpoint: an Imp vision-language model (SigLIP + projector + Phi), or a SigLIP
    dual encoder (which can only embed).

    ``Model()`` loads the bundled ``imp-shapes`` model. Every method releases the GIL while it
    computes, so threads with a model each run in parallel; calls on one model from several
    threads run one at a time.

    Args:
        path: a Hugging Face checkpoint directory; None for the bundled model.
        threads: worker threads for the library's pool. The pool is process-wide (shared by
            every model); giving a number here resizes it, None leaves it as it is (one
            thread per core unless :func:`lumen.set_threads` said otherwise). For two models
            answering in two threads, ``threads=1`` each is fastest.
        quant: weight format in memory: ``"f32"``, ``"f16"``, ``"bf16"``, ``"q8_0"`` or
            ``"q4_0"`` for the whole model, or a dict ``{"vision": ..., "llm": ...}``; None
            keeps the stored format with exact fp32 compute.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (needs a build with CUDA).
        alpha: transparent images: ``"drop"`` the alpha channel as the reference does
            (default), or composite onto ``"white"``.
        max_pixels: images with more pixels are refused before decoding.
        embedding: how :meth:`embed_images`/:meth:`embed_texts` and :class:`lumen.Index`
            embed: ``"auto"`` (``"caption"`` for an Imp model, ``"siglip"`` for a dual
            encoder), ``"caption"``, ``"prompt"`` or ``"siglip"``.

    Raises:
        lumen.NotFoundError: no such directory, or no model in it.
        lumen.InvalidInputError: a bad checkpoint or option.
    """

    def __init__(self, path=None, *, threads=None, quant=None, device="cpu", alpha="drop",
                 max_pixels=50_000_000, embedding="auto"):
        if path is None:
            path = bundled_model_path()
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise InvalidInputError(f"threads must be a positive integer or None, not {threads!r}")
        quant_vision = quant_llm = ""
        if isinstance(quant, str):
            quant_vision = quant_llm = quant
        elif isinstance(quant, dict):
            unknown = set(quant) - {"vision", "llm"}
            if unknown:
                raise InvalidInputError(f"quant keys are 'vision' and 'llm', not {sorted(unknown)}")
            quant_vision = quant.get("vision") or ""
            quant_llm = quant.get("llm") or ""
        elif quant is not None:
            raise InvalidInputError(f"quant must be a format name, a dict or None, not {quant!r}")
        if alpha not in ("drop", "white"):
            raise InvalidInputError(f"alpha must be 'drop' or 'white', not {alpha!r}")
        self._impl = _lumen.Model(os.fsdecode(os.fspath(path)), threads or 0, quant_vision, quant_llm,
                                  device, alpha, int(max_pixels), embedding)

    def __repr__(self):
        return f"lumen.Model({self.path!r}, device={self.device!r})"

    @property
    def path(self):
        """The checkpoint directory (absolute)."""
        return self._impl.path

    @property
    def device(self):
        return self._impl.device

    @property
    def alpha(self):
        return self._impl.alpha

    @property
    def has_language_model(self):
        """False for a SigLIP dual encoder, which can only embed."""
        return self._impl.has_language_model

    @property
    def image_size(self):
        """The vision tower's input size in pixels (images are resized to it)."""
        return self._impl.image_size

    @property
    def tokens_per_image(self):
        """Prompt positions one image takes."""
        return self._impl.tokens_per_image

    @property
    def context_length(self):
        """The most positions a prompt and its reply can take."""
        return self._impl.context_length

    @property
    def chat_template(self):
        """The name of the chat template prompts are rendered with (``"phi2"`` for Imp)."""
        return self._impl.chat_template

    @property
    def embedding_method(self):
        """The default embedding method (see ``embedding`` above)."""
        return self._impl.embedding_method

    @property
    def embedding_dim(self):
        """The length of the default method's embedding vectors."""
        return self._impl.embedding_dim("")

    @_with_sampling_doc
    def ask(self, image, question, **sampling):
        """Answers a question about an image (or several, or None for a text-only question),
        with the checkpoint's chat template, exactly as ``lumen ask -i IMAGE QUESTION`` does.

        Args:
            image: a path, bytes, a NumPy uint8 array (HxWx3 or HxWx4), a PIL image, a list
                of them, or None.
            question: the user's message.

        {sampling}

        Returns:
            The reply as ``lumen ask`` prints it (without its final newline).

        Raises:
            lumen.Error: an unreadable image, bad sampling options, a prompt longer than the
            context.
        """
        images = image_list(image)
        options = _sampling("ask", sampling)
        return self._impl.ask(images, str(question), options, None)

    @_with_sampling_doc
    def stream(self, image, question, **sampling):
        """Like :meth:`ask`, but returns an iterator over the reply's text as it is generated
        (pieces end on UTF-8 character boundaries; joined they equal :meth:`ask`'s reply).
        Stopping the iteration early (``break``, or closing it) cancels the generation.
        Images and options are checked at the call; errors during generation are raised by
        the iterator.

        {sampling}
        """
        images = image_list(image)
        options = _sampling("stream", sampling)
        question = str(question)
        return _stream(lambda on_text: self._impl.ask(images, question, options, on_text))

    def chat(self):
        """Starts a conversation (:class:`lumen.Chat`) that keeps its KV cache between turns."""
        return Chat(self._impl.chat())

    @_with_sampling_doc
    def caption(self, images, batch=8, *, prompt="Describe the image.", progress=None, **sampling):
        """One caption per image, as ``lumen caption`` writes them: images are encoded
        ``batch`` at a time in one vision pass, then each is answered on its own.

        Args:
            images: a list of images (see :meth:`ask`), or one.
            batch: images per vision pass.
            prompt: the instruction given with each image.
            progress: called as ``progress(done, total)`` after each caption; an exception it
                raises stops the captioning and propagates.

        {sampling}

        Returns:
            A list of captions (whitespace trimmed), in the order of ``images``.

        Raises:
            lumen.Error: the first image that cannot be read (its message names it).
        """
        images = image_list(images)
        options = _sampling("caption", sampling)
        return self._impl.caption(images, int(batch), str(prompt), options, progress)

    def embed_images(self, images, *, method=None):
        """Embeds images into the model's joint image-text space, as ``lumen embed --image``.

        Returns:
            ``numpy.ndarray`` float32 ``[n, dim]``, each row L2-normalised (the inner product
            of two rows is their cosine similarity).
        """
        return self._impl.embed_images(image_list(images), method or "")

    def embed_texts(self, texts, *, method=None):
        """Embeds texts (a list of strings, or one string) into the same space as
        :meth:`embed_images`, as ``lumen embed --text``.

        Returns:
            ``numpy.ndarray`` float32 ``[n, dim]``, L2-normalised rows (a text with no content
            word gives a zero row under the ``caption`` method).
        """
        if isinstance(texts, str):
            texts = [texts]
        return self._impl.embed_texts([str(text) for text in texts], method or "")

    def preprocess(self, image):
        """The model's input tensor for an image: ``numpy.ndarray`` float32 ``[3, S, S]``
        (decoded, alpha handled, bicubic-resized to ``image_size`` like PIL, normalised)."""
        return self._impl.preprocess(image_arg(image))

    def decode_image(self, image):
        """The image as the model sees it before resizing: ``numpy.ndarray`` uint8 ``[H, W, 3]``."""
        return self._impl.decode_image(image_arg(image))

    def tokenize(self, text):
        """Token ids of ``text`` (no BOS is added, as Imp's processor adds none)."""
        return self._impl.tokenize(str(text))

    def detokenize(self, ids):
        """Text of token ids."""
        return self._impl.detokenize([int(i) for i in ids])


class Chat:
    """A conversation with a :class:`Model` (from :meth:`Model.chat`). Each :meth:`send` renders
    the whole conversation with the chat template, as ``lumen chat`` does, but the KV cache is
    kept between turns, so a turn prefills only what it adds (its text and images), not the
    history. ``last_usage["cached_positions"]`` says how many positions were reused.
    """

    def __init__(self, impl):
        self._impl = impl

    @_with_sampling_doc
    def send(self, text, images=(), **sampling):
        """Sends a user message (with images attached to it, if any) and returns the reply.
        A turn that fails (an unreadable image, a prompt over the context) leaves the
        conversation as it was (its images stay attached); one interrupted by Ctrl-C is kept
        up to where it stopped.

        {sampling}
        """
        return self._impl.send(str(text), image_list(images), _sampling("send", sampling), None)

    @_with_sampling_doc
    def stream(self, text, images=(), **sampling):
        """Like :meth:`send`, but returns an iterator over the reply's text as it is generated;
        the turn is recorded when the iteration ends (closed early, it is kept up to there).

        {sampling}
        """
        images = image_list(images)
        options = _sampling("stream", sampling)
        text = str(text)
        return _stream(lambda on_text: self._impl.send(text, images, options, on_text))

    def attach(self, images):
        """Attaches images to the next message (like ``/image PATH`` in ``lumen chat``)."""
        self._impl.attach(image_list(images))

    def clear(self):
        """Forgets the conversation, its images and its cache."""
        self._impl.clear()

    @property
    def history(self):
        """The turns so far: a list of ``(role, text)``, role ``"user"`` or ``"assistant"``."""
        return [(role, text) for role, text, _images in self._impl.history]

    @property
    def cached_positions(self):
        """Positions the KV cache holds now."""
        return self._impl.cached_positions

    @property
    def pending_images(self):
        """Images attached to the next message."""
        return self._impl.pending_images

    @property
    def last_usage(self):
        """About the last turn: ``prompt_positions``, ``cached_positions`` (reused from the
        cache), ``prefilled_positions``, ``completion_tokens``, ``finish_reason``,
        ``prefill_ms``, ``decode_ms``."""
        return self._impl.last_usage
