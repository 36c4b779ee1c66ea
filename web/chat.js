// The chat view: a conversation about images, streamed from /v1/chat/completions.
//
// Every request sends the whole conversation again (images included); the server keeps the
// KV cache of the previous turn, so a follow-up only pays for its new tokens ("cached N" in
// the answer's stats). Conversations live in localStorage (store.js) and are listed in the
// sidebar.
import { ApiError, streamChat } from './api.js';
import {
  currentConversationId, loadConversations, loadSettings, newConversation, saveConversations,
  setCurrentConversationId, titleFor,
} from './store.js';
import { $, copyText, el, notify, readImageFile } from './ui.js';

const ACCEPTED_TYPES = ['image/png', 'image/jpeg'];

export class ChatView {
  constructor({ modelId }) {
    this.modelId = modelId;  // () => the served model's id
    this.conversations = loadConversations();
    this.current = this.conversations.find((c) => c.id === currentConversationId()) ?? null;
    this.pendingImages = [];  // data URLs attached to the next question
    this.abort = null;        // AbortController of the answer being streamed
    this.messagesEl = $('#messages');
    this.promptEl = $('#prompt');

    $('#composer').addEventListener('submit', (e) => {
      e.preventDefault();
      this.ask();
    });
    this.promptEl.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.ask();
      }
    });
    $('#attach').addEventListener('click', () => $('#file-input').click());
    $('#file-input').addEventListener('change', async (e) => {
      await this.attachFiles([...e.target.files]);
      e.target.value = '';
    });
    $('#stop').addEventListener('click', () => this.stop());
    $('#new-chat').addEventListener('click', () => this.startNew());
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.abort && !document.querySelector('dialog[open]')) this.stop();
    });
    this.promptEl.addEventListener('paste', (e) => {
      const files = [...(e.clipboardData?.files ?? [])].filter((f) => ACCEPTED_TYPES.includes(f.type));
      if (files.length === 0) return;
      e.preventDefault();
      this.attachFiles(files);
    });
    this.setUpDrop();
    this.renderSidebar();
    this.render();
  }

  setUpDrop() {
    const view = $('#view-chat');
    const overlay = $('#drop-overlay');
    let depth = 0;
    const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    view.addEventListener('dragenter', (e) => {
      if (!hasFiles(e)) return;
      depth++;
      overlay.hidden = false;
    });
    view.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) overlay.hidden = true;
    });
    view.addEventListener('dragover', (e) => {
      if (hasFiles(e)) e.preventDefault();
    });
    view.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      overlay.hidden = true;
      this.attachFiles([...(e.dataTransfer?.files ?? [])]);
    });
  }

  async attachFiles(files) {
    for (const file of files) {
      if (!ACCEPTED_TYPES.includes(file.type)) {
        notify(`${file.name}: only PNG and JPEG images can be attached.`);
        continue;
      }
      try {
        this.pendingImages.push(await readImageFile(file));
      } catch (e) {
        notify(`${file.name}: ${e.message}`);
      }
    }
    this.renderAttachments();
    this.promptEl.focus();
  }

  renderAttachments() {
    const list = $('#attachments');
    list.replaceChildren(...this.pendingImages.map((url, i) => el('li', { className: 'attachment' },
      el('img', { src: url, alt: `Attached image ${i + 1}` }),
      el('button', {
        type: 'button', className: 'attachment-remove', 'aria-label': `Remove image ${i + 1}`,
        onclick: () => {
          this.pendingImages.splice(i, 1);
          this.renderAttachments();
          this.promptEl.focus();
        },
      }, '×'))));
  }

  startNew() {
    if (this.abort) this.stop();
    this.current = null;
    setCurrentConversationId(null);
    this.pendingImages = [];
    this.renderAttachments();
    this.renderSidebar();
    this.render();
    this.promptEl.value = '';
    this.promptEl.focus();
    document.dispatchEvent(new CustomEvent('lumen:navigated'));
  }

  open(id) {
    if (this.abort) this.stop();
    this.current = this.conversations.find((c) => c.id === id) ?? null;
    setCurrentConversationId(this.current?.id ?? null);
    this.renderSidebar();
    this.render();
    this.promptEl.focus();
    document.dispatchEvent(new CustomEvent('lumen:navigated'));
  }

  remove(id) {
    if (this.current?.id === id) {
      if (this.abort) this.stop();
      this.current = null;
      setCurrentConversationId(null);
      this.render();
    }
    this.conversations = this.conversations.filter((c) => c.id !== id);
    this.persist();
    this.renderSidebar();
    $('#new-chat').focus();
  }

  persist() {
    if (this.current) {
      this.current.title = titleFor(this.current);
      if (!this.conversations.includes(this.current)) this.conversations.unshift(this.current);
    }
    const problem = saveConversations(this.conversations);
    if (problem) notify(problem);
  }

  renderSidebar() {
    const list = $('#conversation-list');
    const sorted = [...this.conversations].sort((a, b) => b.updated - a.updated);
    list.replaceChildren(...sorted.map((c) => el('li', { className: 'conversation' },
      el('button', {
        type: 'button', className: 'conversation-open', 'aria-current': c === this.current ? 'true' : 'false',
        onclick: () => this.open(c.id),
      }, c.title),
      el('button', {
        type: 'button', className: 'conversation-delete icon-button', 'aria-label': `Delete conversation “${c.title}”`,
        onclick: () => this.remove(c.id),
      }, '×'))));
    if (sorted.length === 0) list.append(el('li', { className: 'conversation-none' }, 'None yet'));
  }

  // The whole conversation, one <article> per message.
  render() {
    const messages = this.current?.messages ?? [];
    $('#chat-empty').hidden = messages.length > 0;
    this.messagesEl.querySelectorAll('.message').forEach((m) => m.remove());
    messages.forEach((m, i) => this.messagesEl.append(this.renderMessage(m, i)));
    this.updateControls();
    this.scrollToEnd();
  }

  renderMessage(message, index) {
    const isUser = message.role === 'user';
    const article = el('article', {
      className: `message ${message.role}`, 'data-index': String(index),
      'aria-label': isUser ? 'You' : 'Lumen',
    });
    if (isUser && message.images?.length) {
      article.append(el('div', { className: 'message-images' },
        ...message.images.map((url, i) => el('img', { src: url, alt: `Image ${i + 1} of this question` }))));
    }
    if (isUser && message.imagesDropped) {
      article.append(el('p', { className: 'message-note' },
        `${message.imagesDropped} image(s) were not kept (browser storage was full).`));
    }
    article.append(el('div', { className: 'message-text' }, message.text));
    if (!isUser) {
      article.append(el('p', { className: 'message-stats' }, statsText(message.stats)));
      const error = el('p', { className: 'message-error', role: 'alert' }, message.error ?? '');
      error.hidden = !message.error;
      article.append(error);
    }
    const actions = el('div', { className: 'message-actions' });
    actions.append(el('button', {
      type: 'button', className: 'button small', 'data-action': 'copy',
      onclick: async (e) => {
        const ok = await copyText(message.text);
        e.target.textContent = ok ? 'Copied' : 'Copy failed';
        setTimeout(() => { e.target.textContent = 'Copy'; }, 1500);
      },
    }, 'Copy'));
    if (isUser) {
      actions.append(el('button', {
        type: 'button', className: 'button small', 'data-action': 'edit', onclick: () => this.edit(index),
      }, 'Edit'));
    } else if (index === this.current.messages.length - 1) {
      actions.append(el('button', {
        type: 'button', className: 'button small', 'data-action': 'regenerate', onclick: () => this.regenerate(),
      }, 'Regenerate'));
    }
    article.append(actions);
    return article;
  }

  // Replaces a question's text with an editor; saving drops everything after it and asks again.
  edit(index) {
    if (this.abort) return;
    const message = this.current.messages[index];
    const article = this.messagesEl.querySelector(`.message[data-index="${index}"]`);
    const textarea = el('textarea', { className: 'edit-text', rows: 3, 'aria-label': 'Edit the question' });
    textarea.value = message.text;
    const save = () => {
      const text = textarea.value.trim();
      if (!text && !message.images?.length) return;
      message.text = text;
      this.current.messages.splice(index + 1);
      this.current.updated = Date.now();
      this.generate();
    };
    textarea.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        save();
      } else if (e.key === 'Escape') {
        e.stopPropagation();
        this.render();
      }
    });
    const editor = el('div', { className: 'editor' }, textarea, el('div', { className: 'message-actions' },
      el('button', { type: 'button', className: 'button small primary', onclick: save }, 'Save and send'),
      el('button', { type: 'button', className: 'button small', onclick: () => this.render() }, 'Cancel')));
    article.querySelector('.message-text').replaceWith(editor);
    article.querySelector(':scope > .message-actions').hidden = true;
    textarea.focus();
  }

  regenerate() {
    if (this.abort || !this.current) return;
    const last = this.current.messages.at(-1);
    if (last?.role === 'assistant') this.current.messages.pop();
    this.generate();
  }

  ask() {
    if (this.abort) return;
    const text = this.promptEl.value.trim();
    if (!text && this.pendingImages.length === 0) {
      this.promptEl.focus();
      return;
    }
    if (!this.current) {
      this.current = newConversation();
      setCurrentConversationId(this.current.id);
    }
    this.current.messages.push({ role: 'user', text, images: this.pendingImages });
    this.current.updated = Date.now();
    this.pendingImages = [];
    this.renderAttachments();
    this.promptEl.value = '';
    this.persist();
    this.renderSidebar();
    this.generate();  // draws the conversation with the new question
  }

  stop() {
    this.abort?.abort();
  }

  // The request body for the conversation so far (it ends with a question).
  requestBody(settings) {
    const messages = [];
    if (settings.system.trim()) messages.push({ role: 'system', content: settings.system });
    const turns = this.current.messages;
    for (const [i, m] of turns.entries()) {
      // A question that failed (its answer is an error) is shown but not sent again.
      if (m.error || (m.role === 'user' && turns[i + 1]?.error)) continue;
      if (m.role === 'assistant') {
        messages.push({ role: 'assistant', content: m.text });
      } else if (m.images?.length) {
        messages.push({
          role: 'user',
          content: [...m.images.map((url) => ({ type: 'image_url', image_url: { url } })), { type: 'text', text: m.text }],
        });
      } else {
        messages.push({ role: 'user', content: m.text });
      }
    }
    const body = {
      model: this.modelId(),
      messages,
      temperature: settings.temperature,
      top_p: settings.top_p,
      max_tokens: settings.max_tokens,
    };
    if (settings.seed !== null && settings.seed !== '') body.seed = settings.seed;
    if (settings.ignore_eos) body.ignore_eos = true;
    return body;
  }

  // Streams an answer to the last question into a new assistant message.
  async generate() {
    const conversation = this.current;
    // An assistant turn with no text (an error) is not part of the conversation the model sees.
    while (conversation.messages.at(-1)?.role === 'assistant') conversation.messages.pop();
    const body = this.requestBody(loadSettings());
    const answer = { role: 'assistant', text: '', stats: null, error: null };
    conversation.messages.push(answer);
    this.render();
    const article = this.messagesEl.querySelector('.message:last-of-type');
    const textEl = article.querySelector('.message-text');
    const statsEl = article.querySelector('.message-stats');
    const errorEl = article.querySelector('.message-error');
    article.classList.add('streaming');
    article.setAttribute('aria-busy', 'true');
    statsEl.textContent = 'waiting for the first token…';

    const abort = new AbortController();
    this.abort = abort;
    this.updateControls();
    const started = performance.now();
    let firstAt = null;
    let pieces = 0;
    let result = null;
    try {
      result = await streamChat(body, {
        signal: abort.signal,
        onDelta: (text) => {
          if (firstAt === null) {
            firstAt = performance.now();
            statsEl.textContent = `first token after ${Math.round(firstAt - started)} ms…`;
          }
          pieces++;
          answer.text += text;
          // Follow the answer unless the reader has scrolled up.
          const m = this.messagesEl;
          const following = m.scrollHeight - m.scrollTop - m.clientHeight < 80;
          textEl.append(text);  // one text node per piece: what is there is not re-parsed
          if (following) this.scrollToEnd();
        },
      });
    } catch (e) {
      if (e.name === 'AbortError') {
        result = { finishReason: 'stopped', usage: null };
      } else {
        answer.error = e instanceof ApiError ? e.describe() : `Error: ${e.message}`;
      }
    } finally {
      const ended = performance.now();
      this.abort = null;
      article.classList.remove('streaming');
      article.removeAttribute('aria-busy');
      if (result) {
        const usage = result.usage;
        const completion = usage?.completion_tokens ?? pieces;
        const decodeSeconds = firstAt === null ? 0 : (ended - firstAt) / 1000;
        answer.stats = {
          ttftMs: firstAt === null ? null : firstAt - started,
          tokensPerSecond: decodeSeconds > 0 && completion > 1 ? (completion - 1) / decodeSeconds : null,
          promptTokens: usage?.prompt_tokens ?? null,
          cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? null,
          completionTokens: completion,
          completionExact: Boolean(usage),
          finishReason: result.finishReason,
        };
      }
      if (conversation === this.current) {
        conversation.updated = Date.now();
        this.render();
      }
      this.persist();
      this.renderSidebar();
      this.updateControls();
      if (document.activeElement === document.body || document.activeElement?.id === 'stop') this.promptEl.focus();
    }
  }

  updateControls() {
    const busy = Boolean(this.abort);
    $('#send').hidden = busy;
    $('#stop').hidden = !busy;
    $('#send').disabled = busy;
    this.messagesEl.querySelectorAll('[data-action="edit"], [data-action="regenerate"]').forEach((b) => {
      b.disabled = busy;
    });
  }

  scrollToEnd() {
    this.messagesEl.scrollTop = this.messagesEl.scrollHeight;
  }
}

// "TTFT 41 ms · 180 tok/s · 25 tokens · prompt 90, cached 80 · stopped"
export function statsText(stats) {
  if (!stats) return '';
  const parts = [];
  if (stats.ttftMs !== null) parts.push(`TTFT ${Math.round(stats.ttftMs)} ms`);
  if (stats.tokensPerSecond !== null) parts.push(`${stats.tokensPerSecond.toFixed(1)} tok/s`);
  parts.push(`${stats.completionExact ? '' : '~'}${stats.completionTokens} tokens`);
  if (stats.promptTokens !== null) {
    parts.push(`prompt ${stats.promptTokens}${stats.cachedTokens ? `, cached ${stats.cachedTokens}` : ''}`);
  }
  const reasons = { stop: null, length: 'max tokens reached', stopped: 'stopped' };
  const reason = stats.finishReason in reasons ? reasons[stats.finishReason] : stats.finishReason;
  if (reason) parts.push(reason);
  return parts.join(' · ');
}
