// The page's entry point: the views (chat, gallery), the server status dot, settings, the
// API-key prompt, and the sidebar on narrow screens.
import { ApiError, getJson, health, setApiKey, setKeyPrompt } from './api.js';
import { ChatView } from './chat.js';
import { GalleryView } from './gallery.js';
import { DEFAULT_SETTINGS, loadSettings, saveSettings } from './store.js';
import { $, notify } from './ui.js';

const HEALTH_EVERY_MS = 5000;

let modelId = 'default';

// Asks for the API key in a modal dialog; resolves with the key, or null when cancelled.
function promptForKey(reason) {
  const dialog = $('#key-dialog');
  $('#key-reason').textContent = `${reason} It is kept in this tab only.`;
  $('#key-input').value = '';
  return new Promise((resolve) => {
    const done = (key) => {
      dialog.removeEventListener('close', onClose);
      resolve(key);
    };
    const onClose = () => done(dialog.returnValue === 'ok' ? $('#key-input').value.trim() || null : null);
    dialog.addEventListener('close', onClose);
    dialog.returnValue = '';
    dialog.showModal();
    $('#key-input').focus();
  });
}

function setUpKeyDialog() {
  const dialog = $('#key-dialog');
  $('#key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!$('#key-input').value.trim()) return;
    dialog.close('ok');
  });
  $('#key-cancel').addEventListener('click', () => dialog.close('cancel'));
  setKeyPrompt(promptForKey);
}

// The dot: green when /health answers, amber with a queue, red when unreachable.
async function refreshStatus() {
  const status = $('#status');
  const text = $('#status-text');
  try {
    const h = await health();
    const queued = h.queued_sequences ?? 0;
    const running = h.running_sequences ?? 0;
    status.dataset.state = queued > 0 ? 'busy' : 'ok';
    text.textContent = `${h.model} · queue ${queued} · running ${running}`;
    status.title = `Server up: model ${h.model}, ${queued} waiting, ${running} generating`;
  } catch (e) {
    status.dataset.state = 'down';
    text.textContent = 'server unreachable';
    status.title = e instanceof ApiError ? e.describe() : e.message;
  }
}

function setUpTabs(gallery) {
  const tabs = [$('#tab-chat'), $('#tab-gallery')];
  const select = (tab, focus = true) => {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute('aria-selected', String(selected));
      t.tabIndex = selected ? 0 : -1;
      $(`#${t.getAttribute('aria-controls')}`).hidden = !selected;
    }
    if (focus) tab.focus();
    document.body.dataset.view = tab.id === 'tab-chat' ? 'chat' : 'gallery';
    if (tab.id === 'tab-gallery' && !gallery.available) gallery.probe();
    history.replaceState(null, '', tab.id === 'tab-chat' ? '#chat' : '#gallery');
  };
  for (const tab of tabs) {
    tab.addEventListener('click', () => select(tab));
    // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
    tab.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(tab);
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        e.preventDefault();
        select(tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]);
      }
    });
  }
  select(location.hash === '#gallery' ? tabs[1] : tabs[0], false);
}

function setUpSettings() {
  const dialog = $('#settings-dialog');
  const fields = {
    temperature: $('#set-temperature'), top_p: $('#set-top-p'), max_tokens: $('#set-max-tokens'),
    seed: $('#set-seed'), system: $('#set-system'), ignore_eos: $('#set-ignore-eos'),
  };
  const fill = (s) => {
    fields.temperature.value = s.temperature;
    fields.top_p.value = s.top_p;
    fields.max_tokens.value = s.max_tokens;
    fields.seed.value = s.seed ?? '';
    fields.system.value = s.system;
    fields.ignore_eos.checked = s.ignore_eos;
  };
  $('#settings-open').addEventListener('click', () => {
    fill(loadSettings());
    dialog.showModal();
  });
  $('#settings-cancel').addEventListener('click', () => dialog.close());
  $('#settings-reset').addEventListener('click', () => fill(DEFAULT_SETTINGS));
  $('#settings-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!$('#settings-form').reportValidity()) return;
    saveSettings({
      temperature: Number(fields.temperature.value),
      top_p: Number(fields.top_p.value),
      max_tokens: Math.round(Number(fields.max_tokens.value)),
      seed: fields.seed.value === '' ? null : Math.round(Number(fields.seed.value)),
      system: fields.system.value,
      ignore_eos: fields.ignore_eos.checked,
    });
    dialog.close();
    notify('Settings saved.');
  });
  dialog.addEventListener('close', () => $('#settings-open').focus());
}

// Below 800 px the conversation list is a drawer.
function setUpSidebar() {
  const toggle = $('#sidebar-toggle');
  const sidebar = $('#sidebar');
  const backdrop = $('#sidebar-backdrop');
  const set = (open) => {
    document.body.classList.toggle('sidebar-open', open);
    toggle.setAttribute('aria-expanded', String(open));
    toggle.setAttribute('aria-label', open ? 'Hide conversations' : 'Show conversations');
    backdrop.hidden = !open;
    if (open) $('#new-chat').focus();
  };
  toggle.addEventListener('click', () => set(!document.body.classList.contains('sidebar-open')));
  backdrop.addEventListener('click', () => set(false));
  sidebar.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && document.body.classList.contains('sidebar-open')) {
      set(false);
      toggle.focus();
    }
  });
  document.addEventListener('lumen:navigated', () => {
    if (document.body.classList.contains('sidebar-open')) set(false);
  });
}

async function main() {
  setUpKeyDialog();
  setUpSidebar();
  setUpSettings();
  new ChatView({ modelId: () => modelId });
  const gallery = new GalleryView();
  setUpTabs(gallery);
  refreshStatus();
  setInterval(refreshStatus, HEALTH_EVERY_MS);
  // One authenticated call at load: asks for the key now if the server wants one (and the
  // tab has none, or a stale one), and learns the model's id.
  try {
    const models = await getJson('/v1/models');
    modelId = models.data?.[0]?.id ?? modelId;
  } catch (e) {
    notify(e instanceof ApiError ? e.describe() : e.message);
    if (e instanceof ApiError && e.status === 401) setApiKey('');
  }
  await gallery.probe();
  document.body.dataset.ready = 'true';
}

main();
