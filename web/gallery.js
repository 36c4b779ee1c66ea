// The gallery view, for a server started with --index DIR: search the index by text or by an
// image (/v1/search), rate results, and ask for recommendations from the ratings
// (/v1/recommend, with its diversity knob). Thumbnails come from /v1/items/{id}/image, which
// serves an indexed item's own image by id and nothing else.
import { ApiError, getBlobUrl, getJson, postJson } from './api.js';
import { $, el, readImageFile } from './ui.js';

const ACCEPTED_TYPES = ['image/png', 'image/jpeg'];
// Fields every result has; the rest is the catalog's metadata, shown under the thumbnail.
const OWN_FIELDS = new Set(['id', 'score', 'image']);
const MAX_THUMBNAILS = 500;  // object URLs kept for results seen again

// A thumb (drawn here, no icon font needed), pointing up or down.
function thumbIcon(direction) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '18');
  svg.setAttribute('height', '18');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(ns, 'path');
  // A cuff and a hand with the thumb raised.
  path.setAttribute('d', 'M2 10h4v11H2zM8 10l4-8c1.7 0 3 1.3 3 3v4h5.5c1.1 0 2 1 1.8 2.1l-1.6 8.2c-.2.9-1 1.7-2 1.7H8z');
  path.setAttribute('fill', 'currentColor');
  if (direction === 'down') path.setAttribute('transform', 'rotate(180 12 12)');
  svg.append(path);
  return svg;
}

export class GalleryView {
  constructor() {
    this.ratings = new Map();    // id -> 'liked' | 'disliked'
    this.thumbnails = new Map(); // id -> object URL (fetched once)
    this.available = false;
    this.busy = false;
    this.statusEl = $('#gallery-status');
    this.resultsEl = $('#results');

    $('#search-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const text = $('#search-text').value.trim();
      if (text) this.run('search', { text }, `Results for “${text}”`);
      else $('#search-text').focus();
    });
    $('#search-image').addEventListener('click', () => $('#search-file').click());
    $('#search-file').addEventListener('change', async (e) => {
      const [file] = e.target.files;
      e.target.value = '';
      if (file) await this.searchByImage(file);
    });
    const drop = $('#search-drop');
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('active');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('active'));
    drop.addEventListener('drop', async (e) => {
      e.preventDefault();
      drop.classList.remove('active');
      const file = [...(e.dataTransfer?.files ?? [])][0];
      if (file) await this.searchByImage(file);
    });
    $('#diversity').addEventListener('input', () => {
      $('#diversity-value').textContent = Number($('#diversity').value).toFixed(2);
    });
    $('#recommend').addEventListener('click', () => this.recommend());
    $('#clear-feedback').addEventListener('click', () => {
      this.ratings.clear();
      this.resultsEl.querySelectorAll('.card').forEach((card) => this.paintRating(card));
      this.updateFeedback();
    });
  }

  // Whether the server has an index (GET /v1/index); the view explains itself when not.
  async probe() {
    const unavailable = $('#gallery-unavailable');
    try {
      const info = await getJson('/v1/index');
      this.available = true;
      unavailable.hidden = true;
      $('#gallery-body').hidden = false;
      this.setStatus(`${info.items} items indexed (${info.method ?? 'embeddings'}, ${info.dim} dimensions). Search to begin.`);
    } catch (e) {
      this.available = false;
      $('#gallery-body').hidden = true;
      unavailable.hidden = false;
      unavailable.textContent = e instanceof ApiError && e.status === 404
        ? 'This server has no index. Start it with lumen serve --index DIR to search and get recommendations here (see README, “Catalog, index and commands”).'
        : `The gallery is unavailable: ${e instanceof ApiError ? e.describe() : e.message}`;
    }
  }

  setStatus(text, isError = false) {
    this.statusEl.textContent = text;
    this.statusEl.classList.toggle('error', isError);
  }

  k() { return Number($('#result-count').value); }

  async searchByImage(file) {
    if (!ACCEPTED_TYPES.includes(file.type)) {
      this.setStatus(`${file.name}: only PNG and JPEG images can be searched with.`, true);
      return;
    }
    try {
      const image = await readImageFile(file);
      await this.run('search', { image }, `Images like ${file.name}`);
    } catch (e) {
      this.setStatus(`${file.name}: ${e.message}`, true);
    }
  }

  recommend() {
    const liked = [...this.ratings].filter(([, r]) => r === 'liked').map(([id]) => id);
    const disliked = [...this.ratings].filter(([, r]) => r === 'disliked').map(([id]) => id);
    if (liked.length === 0) return;
    const diversity = Number($('#diversity').value);
    this.run('recommend', { liked, disliked, diversity },
      `Recommended from ${liked.length} liked and ${disliked.length} disliked (diversity ${diversity.toFixed(2)}; rated items left out)`);
  }

  async run(endpoint, body, title) {
    if (this.busy) return;
    this.busy = true;
    this.resultsEl.setAttribute('aria-busy', 'true');
    this.setStatus(endpoint === 'search' ? 'Searching…' : 'Finding recommendations…');
    const started = performance.now();
    try {
      const { results } = await postJson(`/v1/${endpoint}`, { ...body, k: this.k() });
      const ms = Math.round(performance.now() - started);
      this.setStatus(`${title}: ${results.length} result${results.length === 1 ? '' : 's'} in ${ms} ms.`);
      this.showResults(results);
    } catch (e) {
      this.setStatus(e instanceof ApiError ? e.describe() : `Error: ${e.message}`, true);
    } finally {
      this.busy = false;
      this.resultsEl.removeAttribute('aria-busy');
      this.updateFeedback();
    }
  }

  showResults(results) {
    this.resultsEl.replaceChildren(...results.map((item) => this.card(item)));
  }

  card(item) {
    const id = String(item.id);
    const img = el('img', { alt: `Item ${id}`, width: 160, height: 160, className: 'thumb' });
    this.loadThumbnail(id, img, item.image !== undefined);
    const meta = Object.entries(item).filter(([key]) => !OWN_FIELDS.has(key));
    const card = el('li', { className: 'card', 'data-id': id },
      img,
      el('div', { className: 'card-body' },
        el('div', { className: 'card-head' },
          el('span', { className: 'card-id', title: id }, id),
          el('span', { className: 'card-score', title: 'cosine similarity' }, Number(item.score).toFixed(3))),
        meta.length ? el('dl', { className: 'card-meta' },
          ...meta.flatMap(([key, value]) => [el('dt', {}, key),
            el('dd', {}, typeof value === 'string' ? value : JSON.stringify(value))])) : null,
        el('div', { className: 'card-actions', role: 'group', 'aria-label': `Rate ${id}` },
          el('button', {
            type: 'button', className: 'button small rate-like', 'aria-pressed': 'false', 'aria-label': `Like ${id}`,
            onclick: () => this.rate(card, id, 'liked'),
          }, thumbIcon('up')),
          el('button', {
            type: 'button', className: 'button small rate-dislike', 'aria-pressed': 'false', 'aria-label': `Dislike ${id}`,
            onclick: () => this.rate(card, id, 'disliked'),
          }, thumbIcon('down')))));
    this.paintRating(card);
    return card;
  }

  async loadThumbnail(id, img, hasImage) {
    if (!hasImage) {
      img.replaceWith(el('div', { className: 'thumb no-image', role: 'img', 'aria-label': `Item ${id} has no image` }, 'text'));
      return;
    }
    try {
      let url = this.thumbnails.get(id);
      if (!url) {
        url = await getBlobUrl(`/v1/items/${encodeURIComponent(id)}/image`);
        this.thumbnails.set(id, url);
        if (this.thumbnails.size > MAX_THUMBNAILS) {
          // The oldest; an <img> already showing it keeps its decoded picture.
          const [oldest, oldUrl] = this.thumbnails.entries().next().value;
          this.thumbnails.delete(oldest);
          URL.revokeObjectURL(oldUrl);
        }
      }
      img.src = url;
    } catch (e) {
      img.alt = `Item ${id}: image unavailable (${e instanceof ApiError ? e.describe() : e.message})`;
      img.classList.add('broken');
    }
  }

  rate(card, id, rating) {
    if (this.ratings.get(id) === rating) this.ratings.delete(id);
    else this.ratings.set(id, rating);
    this.paintRating(card);
    this.updateFeedback();
  }

  paintRating(card) {
    const rating = this.ratings.get(card.dataset.id);
    card.querySelector('.rate-like').setAttribute('aria-pressed', String(rating === 'liked'));
    card.querySelector('.rate-dislike').setAttribute('aria-pressed', String(rating === 'disliked'));
    card.dataset.rating = rating ?? '';
  }

  updateFeedback() {
    const liked = [...this.ratings.values()].filter((r) => r === 'liked').length;
    const disliked = this.ratings.size - liked;
    $('#feedback-summary').textContent = this.ratings.size === 0
      ? 'Rate items with thumbs up or down, then ask for recommendations.'
      : `${liked} liked, ${disliked} disliked.`;
    $('#recommend').disabled = liked === 0 || this.busy;
    $('#clear-feedback').disabled = this.ratings.size === 0;
  }
}
