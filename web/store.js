// What the page keeps in the browser: conversations and settings in localStorage (they
// survive a reload), nothing on the server.
//
// A conversation: {id, title, updated, messages: [
//   {role: 'user', text, images: [data URL, ...]},
//   {role: 'assistant', text, stats?: {ttftMs, tokensPerSecond, promptTokens, cachedTokens,
//                                      completionTokens, finishReason}, error?: string}]}

const CONVERSATIONS = 'lumen.conversations';
const CURRENT = 'lumen.currentConversation';
const SETTINGS = 'lumen.settings';

export const DEFAULT_SETTINGS = Object.freeze({
  temperature: 0,  // greedy: the answer `lumen ask` gives
  top_p: 1,
  max_tokens: 256,
  seed: null,
  system: '',
  ignore_eos: false,
});

function read(key, fallback) {
  try {
    const text = localStorage.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;  // unreadable (edited by hand, or storage disabled)
  }
}

export function loadSettings() {
  const stored = read(SETTINGS, {});
  return { ...DEFAULT_SETTINGS, ...(stored && typeof stored === 'object' ? stored : {}) };
}

export function saveSettings(settings) {
  localStorage.setItem(SETTINGS, JSON.stringify(settings));
}

export function loadConversations() {
  const list = read(CONVERSATIONS, []);
  return Array.isArray(list) ? list.filter((c) => c && typeof c.id === 'string' && Array.isArray(c.messages)) : [];
}

export function currentConversationId() { return localStorage.getItem(CURRENT); }
export function setCurrentConversationId(id) {
  if (id) localStorage.setItem(CURRENT, id);
  else localStorage.removeItem(CURRENT);
}

// What the page lets itself use of the origin's localStorage (Chromium allows 5 M UTF-16
// characters; other data may share it).
const BUDGET_CHARS = 4_000_000;

const imageChars = (c) => c.messages.reduce((n, m) => n + (m.images ?? []).reduce((k, url) => k + url.length, 0), 0);
const withoutImages = (c) => ({
  ...c,
  messages: c.messages.map((m) => (m.images?.length ? { ...m, images: [], imagesDropped: m.images.length } : m)),
});

// Saves the conversations, newest first. Images make conversations large: when they do not
// fit the budget, a conversation is saved without its images, and when even that does not
// fit, the oldest are left out. Each conversation is serialised at most twice, so a huge
// image costs little. Returns a sentence saying what was given up, or null.
export function saveConversations(conversations) {
  const sorted = [...conversations].sort((a, b) => b.updated - a.updated);
  const parts = [];
  let used = 2;
  let droppedImages = false;
  let droppedConversations = false;
  for (const c of sorted) {
    const full = imageChars(c) < BUDGET_CHARS ? JSON.stringify(c) : null;
    if (full !== null && used + full.length + 1 <= BUDGET_CHARS) {
      parts.push(full);
      used += full.length + 1;
      continue;
    }
    const lean = JSON.stringify(withoutImages(c));
    if (used + lean.length + 1 <= BUDGET_CHARS) {
      parts.push(lean);
      used += lean.length + 1;
      droppedImages = true;
    } else {
      droppedConversations = true;
    }
  }
  try {
    localStorage.setItem(CONVERSATIONS, `[${parts.join(',')}]`);
  } catch {
    return 'Browser storage is full or disabled: conversations are not being saved.';
  }
  if (droppedConversations) return 'Browser storage is full: the oldest conversations were not saved.';
  if (droppedImages) return 'An image was too large to keep in browser storage: it shows until the page is reloaded.';
  return null;
}

export function newConversation() {
  const id = (crypto.randomUUID?.() ?? `${Date.now()}-${Math.random()}`).toString();
  return { id, title: 'New chat', updated: Date.now(), messages: [] };
}

// The first words of the first question.
export function titleFor(conversation) {
  const first = conversation.messages.find((m) => m.role === 'user');
  if (!first) return 'New chat';
  const text = first.text.trim().replace(/\s+/g, ' ');
  if (!text) return first.images?.length ? 'Image' : 'New chat';
  return text.length > 48 ? `${text.slice(0, 47)}…` : text;
}
