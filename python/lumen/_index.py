"""lumen.Index: search and recommendation over a catalog, the index ``lumen index`` builds."""

import json
import os

from . import _lumen
from ._errors import InvalidInputError
from ._images import image_arg
from ._model import Model


def _catalog_arg(catalog):
    """A catalog path (str), or the items as JSON lines."""
    if isinstance(catalog, (str, os.PathLike)):
        return os.fsdecode(os.fspath(catalog))
    if isinstance(catalog, dict):
        catalog = [catalog]
    lines = []
    for number, item in enumerate(catalog, 1):
        if not isinstance(item, dict):
            raise InvalidInputError(f"item {number}: expected a dict like "
                                    f"{{'id': ..., 'image': PATH, 'text': ...}}, not {type(item).__name__}")
        item = dict(item)
        if isinstance(item.get("image"), os.PathLike):
            item["image"] = os.fsdecode(os.fspath(item["image"]))
        try:
            lines.append(json.dumps(item, ensure_ascii=False))
        except (TypeError, ValueError) as error:
            raise InvalidInputError(f"item {number}: fields must be JSON values ({error})") from None
    return lines


def _ids(ids):
    if isinstance(ids, (str, int)):
        ids = [ids]
    return [str(i) for i in ids]


def _results(text):
    return json.loads(text)["results"]


class Index:
    """A saved catalog index: one vector per item (an image, a text, or both fused) and a
    nearest-neighbour structure over them, the same directory format ``lumen index build``
    writes and ``lumen search`` reads.

    A catalog item is a dict ``{"id": str | int, "image": PATH?, "text": str?, ...metadata}``:
    ``id`` is required and unique, an item needs an image or a text, and every other key is
    metadata returned with results. Results are lists of dicts ``{"id", "score", ...}``, best
    first, exactly what ``lumen search`` and ``lumen recommend`` print under ``"results"``.

    Build with :meth:`build`, or open one with :meth:`load`.
    """

    def __init__(self, impl, model=None):
        self._impl = impl
        self._model = model

    @classmethod
    def build(cls, catalog, model=None, *, method=None, mode="auto", image_weight=1.0, text_weight=1.0,
              batch=8, progress=None, base_dir=None, exact_threshold=10000, hnsw_m=16,
              ef_construction=200, ef_search=64):
        """Embeds every item with ``model`` and builds an index (in memory; :meth:`save`
        writes it), as ``lumen index build``.

        Args:
            catalog: a JSON Lines catalog file (image paths relative to it), or an iterable of
                item dicts (image paths relative to ``base_dir``, default the working
                directory).
            model: a :class:`lumen.Model`; None loads the bundled one.
            method: the embedding method (None: the model's ``embedding``).
            mode: ``"auto"`` (exact up to ``exact_threshold`` items, else HNSW), ``"exact"`` or
                ``"hnsw"``.
            image_weight, text_weight: an item with both gets
                ``normalize(image_weight * e_image + text_weight * e_text)``.
            batch: images embedded per batch.
            progress: called as ``progress(done, total)`` after each batch.
            hnsw_m, ef_construction, ef_search: HNSW parameters.
        """
        model = model if model is not None else Model()
        catalog = _catalog_arg(catalog)
        base = os.path.abspath(os.fsdecode(os.fspath(base_dir))) if base_dir is not None else os.getcwd()
        impl = _lumen.Index.build(catalog, base, model._impl, method or "", mode, int(exact_threshold),
                                  float(image_weight), float(text_weight), int(batch), int(hnsw_m),
                                  int(ef_construction), int(ef_search), progress)
        return cls(impl, model)

    @classmethod
    def load(cls, path, model=None):
        """Opens a saved index (from :meth:`save` or ``lumen index build``). ``model`` embeds
        text and image queries; None loads the model the index records, when first needed.
        A model that embeds in another space is refused."""
        impl = _lumen.Index.load(os.fsdecode(os.fspath(path)))
        if model is not None:
            impl.check_model(model._impl)
        return cls(impl, model)

    def save(self, path):
        """Writes the index to a directory (a sibling is written and swapped in, so a reader
        never sees half an index)."""
        self._impl.save(os.fsdecode(os.fspath(path)))

    @property
    def model(self):
        """The model that embeds queries (loaded from the index's record when not given)."""
        if self._model is None:
            spec = self.embedder
            self._model = Model(spec.get("model") or None)
            self._impl.check_model(self._model._impl)
        return self._model

    @property
    def embedder(self):
        """What the index was built with: ``{"method", "model", "dim", ...}``."""
        return json.loads(self._impl.embedder_json)

    @property
    def dim(self):
        return self._impl.dim

    @property
    def mode(self):
        """``"exact"`` or ``"hnsw"``."""
        return self._impl.mode

    def __len__(self):
        return len(self._impl)

    def __contains__(self, item_id):
        return str(item_id) in self._impl

    def get(self, item_id):
        """An item's fields (as given in the catalog, image path resolved)."""
        return json.loads(self._impl.fields_json(str(item_id)))

    def search(self, text=None, image=None, k=10, *, exclude=()):
        """The ``k`` items nearest a text or an image query (give exactly one), best first, as
        ``lumen search --text T`` / ``--image IMG``. ``exclude`` lists ids to leave out."""
        if (text is None) == (image is None):
            raise InvalidInputError("give exactly one of text and image")
        image = image_arg(image) if image is not None else None
        return _results(self._impl.search(self.model._impl, None if text is None else str(text), image,
                                          int(k), _ids(exclude)))

    def recommend(self, liked=(), disliked=(), text=None, k=10, diversity=0.0, *, disliked_weight=0.5,
                  text_weight=1.0):
        """Unseen items for a profile, as ``lumen recommend``: the profile is
        ``normalize(mean(liked) - disliked_weight * mean(disliked) + text_weight * e(text))``,
        items (neither liked nor disliked) are ranked by cosine with it, then re-ordered by
        Maximal Marginal Relevance when ``diversity`` > 0 (0 = pure relevance, 1 = pure
        novelty). Unknown ids raise :class:`lumen.NotFoundError`."""
        model = self.model._impl if text is not None else None
        return _results(self._impl.recommend(model, _ids(liked), _ids(disliked),
                                             None if text is None else str(text), int(k), float(diversity),
                                             float(disliked_weight), float(text_weight)))

    def add(self, catalog, *, batch=8, progress=None, base_dir=None):
        """Embeds items (a catalog path or item dicts, as in :meth:`build`) with the index's
        model and adds them; an existing id is replaced. Returns how many were replaced."""
        catalog = _catalog_arg(catalog)
        base = os.path.abspath(os.fsdecode(os.fspath(base_dir))) if base_dir is not None else os.getcwd()
        return self._impl.add(catalog, base, self.model._impl, int(batch), progress)

    def remove(self, ids):
        """Removes items by id; an unknown id raises :class:`lumen.NotFoundError` and nothing
        is removed."""
        self._impl.remove(_ids(ids))
