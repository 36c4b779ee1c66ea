// Small DOM helpers shared by the views.

export const $ = (selector, root = document) => root.querySelector(selector);

// el('button', {type: 'button', onclick: f, 'aria-label': 'x'}, 'text', child, ...): properties
// that exist on the element are set as properties, everything else as attributes; strings
// become text nodes (never HTML).
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key in node && !key.includes('-')) node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

let noticeTimer = null;

// A short message at the bottom of the page, read out by screen readers.
export function notify(text, ms = 6000) {
  const notice = $('#notice');
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.hidden = true; }, ms);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API (a plain-http address other than localhost): the old way.
    const area = el('textarea', { className: 'visually-hidden' });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

// A data: URL of an image file, as the API takes it.
export function readImageFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(`cannot read the file (${reader.error?.message ?? 'unknown error'})`));
    reader.readAsDataURL(file);
  });
}
