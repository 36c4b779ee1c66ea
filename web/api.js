// Talking to `lumen serve`: JSON calls and streamed chat completions, with the API key (when
// the server wants one) from sessionStorage, and every failure turned into an ApiError whose
// message a person can read.

const KEY_STORAGE = 'lumen.apiKey';

// A failed call: the HTTP status (0 when the server could not be reached, null for an error
// the server sent inside a stream that had already started) and the server's
// own message from its OpenAI-style body {"error": {"message", "code"}}.
export class ApiError extends Error {
  constructor(status, message, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }

  // "Error 413: the request body is too large.", or the network message.
  describe() {
    if (this.status === 0) return this.message;
    const hint = {
      401: ' Reload the page to enter the key again.',
      429: ' The server is busy; try again in a moment.',
      503: ' The server is busy or stopping; try again in a moment.',
    }[this.status] ?? '';
    const sentence = /[.!?]$/.test(this.message) ? this.message : `${this.message}.`;
    return this.status ? `Error ${this.status}: ${sentence}${hint}` : `Error: ${sentence}`;
  }
}

let askForKey = null;  // async (reason) => key or null, installed by the page
let keyPrompt = null;  // the pending prompt, so parallel 401s ask only once

export function setKeyPrompt(prompt) { askForKey = prompt; }
export function apiKey() { return sessionStorage.getItem(KEY_STORAGE) ?? ''; }
export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function headers(extra = {}) {
  const h = { ...extra };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function errorFrom(response) {
  let message = response.statusText || 'request failed';
  let code = null;
  try {
    const body = await response.json();
    if (body?.error?.message) message = body.error.message;
    code = body?.error?.code ?? null;
  } catch {
    // not JSON (a proxy's page): keep the status text
  }
  return new ApiError(response.status, message, code);
}

// fetch with the key; on 401 asks for a key once (every concurrent 401 waits on the same
// prompt) and retries with it. Network failures become ApiError(0, ...).
async function send(path, init = {}) {
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      response = await fetch(path, { ...init, headers: headers(init.headers) });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, `Could not reach the server (${e.message}). Is lumen serve still running?`);
    }
    if (response.status !== 401 || attempt > 0 || !askForKey) return response;
    const err = await errorFrom(response);
    keyPrompt ??= askForKey(apiKey() ? `The server refused the key: ${err.message}.` : 'This server needs an API key.')
      .finally(() => { keyPrompt = null; });
    const key = await keyPrompt;
    if (!key) throw err;
    setApiKey(key);
  }
}

export async function getJson(path, init = {}) {
  const response = await send(path, init);
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

export async function postJson(path, body, init = {}) {
  return getJson(path, {
    ...init,
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

// An object URL for a binary resource (an item's image), fetched with the key.
export async function getBlobUrl(path, init = {}) {
  const response = await send(path, init);
  if (!response.ok) throw await errorFrom(response);
  return URL.createObjectURL(await response.blob());
}

// /health needs no key; a failure means the server is unreachable.
export async function health() {
  const response = await fetch('/health', { cache: 'no-store' });
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

// POST /v1/chat/completions with stream: true. Calls onDelta(text) for every piece of the
// answer as it arrives, and resolves with {finishReason, usage} when the server ends the
// stream. An error before the stream (400, 413, 429...) or inside it (the server's error
// event) rejects with ApiError; `signal` aborting rejects with an AbortError.
export async function streamChat(body, { signal, onDelta }) {
  const response = await send('/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (!response.ok) throw await errorFrom(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let finishReason = null;
  let usage = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    // Server-sent events end with a blank line; each of ours is one "data: ..." line.
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data === '') continue;
      if (data === '[DONE]') return { finishReason, usage };
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(null, chunk.error.message ?? 'generation failed', chunk.error.code);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (choice?.delta?.content) onDelta(choice.delta.content);
      if (choice?.finish_reason) finishReason = choice.finish_reason;
    }
  }
  if (finishReason) return { finishReason, usage };
  throw new ApiError(0, 'The server closed the stream before the answer ended.');
}
