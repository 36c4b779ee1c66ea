// What the browser test and the screenshot script share: the eval scenes' index, and driving
// the page's chat and gallery the way a person would (through its controls).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { evalDir, testsDir } from '../server/lumen_server.mjs';

export { startServer } from '../server/lumen_server.mjs';

export const repoDir = join(testsDir, '..');
export const shapesPng = join(repoDir, 'examples', 'shapes.png');
export const scenePath = (i) => join(evalDir, 'images', `scene_${String(i).padStart(4, '0')}.png`);

const run = promisify(execFile);

export function lumenBin() {
  const bin = process.env.LUMEN_BIN;
  if (!bin) throw new Error('LUMEN_BIN must name the built lumen binary');
  return bin;
}

// `lumen index build` over the first `count` eval scenes (ids scene_0000...), into dir/index.
// About 10-20 s for the 500 scenes with -t 1, the fastest setting for the bundled model.
export async function buildSceneIndex(dir, count = 500) {
  const catalog = join(dir, 'scenes.jsonl');
  const lines = [];
  for (let i = 0; i < count; i++) {
    lines.push(JSON.stringify({ id: `scene_${String(i).padStart(4, '0')}`, image: scenePath(i), set: 'eval/shapes' }));
  }
  writeFileSync(catalog, `${lines.join('\n')}\n`);
  const index = join(dir, 'index');
  await run(lumenBin(), ['index', 'build', catalog, '-o', index, '-t', '1'], { maxBuffer: 1 << 24 });
  return index;
}

// What `lumen ask` prints for the same question: the answer the page must show.
export async function cliAnswer(image, question) {
  const { stdout } = await run(lumenBin(), ['ask', '-i', image, question], { maxBuffer: 1 << 20 });
  return stdout.trim();
}

export const lastAnswer = 'article.message.assistant:last-of-type';

// Opens the page and waits until it has talked to the server once.
export async function openPage(context, url) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A failed request is logged by Chromium itself; the tests check those through the page.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, problems };
}

// Types a question, sends it with the Send button, and waits until the answer has finished
// (its stats line is filled in, or its error shown). Returns the answer's text and stats.
export async function ask(page, question) {
  const before = await page.locator('article.message').count();
  await page.fill('#prompt', question);
  await page.click('#send');
  return waitForAnswer(page, before + 2);
}

export async function waitForAnswer(page, messages, timeout = 120000) {
  await page.waitForFunction((n) => {
    const all = document.querySelectorAll('article.message');
    const last = all[all.length - 1];
    return all.length === n && last.classList.contains('assistant') && !last.classList.contains('streaming') &&
      !last.hasAttribute('aria-busy');
  }, messages, { timeout });
  const answer = page.locator(lastAnswer);
  return {
    text: await answer.locator('.message-text').textContent(),
    stats: await answer.locator('.message-stats').textContent(),
    error: (await answer.locator('.message-error').isVisible()) ? await answer.locator('.message-error').textContent() : null,
  };
}

// Records, in the page, every length the last answer's text takes while it streams in.
export async function recordAnswerGrowth(page) {
  await page.evaluate((selector) => {
    window.lumenTestLengths = [];
    const observer = new MutationObserver(() => {
      const text = document.querySelector(`${selector} .message-text`);
      if (text) window.lumenTestLengths.push(text.textContent.length);
    });
    observer.observe(document.querySelector('#messages'), { subtree: true, childList: true, characterData: true });
    window.lumenTestStopRecording = () => observer.disconnect();
  }, lastAnswer);
}

export async function answerGrowth(page) {
  return page.evaluate(() => {
    window.lumenTestStopRecording();
    return window.lumenTestLengths;
  });
}

// Searches the gallery by text and waits for the grid and every thumbnail in it.
export async function searchGallery(page, text) {
  await page.click('#tab-gallery');
  await page.fill('#search-text', text);
  await page.press('#search-text', 'Enter');
  await page.waitForFunction((t) => document.querySelector('#gallery-status').textContent.includes(`“${t}”`), text);
  await waitForThumbnails(page);
}

// Every result's thumbnail decoded (naturalWidth > 0); returns the result ids in order.
export async function waitForThumbnails(page) {
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('#results .card img.thumb')];
    return imgs.length > 0 && imgs.every((img) => img.complete && img.naturalWidth > 0);
  }, null, { timeout: 30000 });
  return page.$$eval('#results .card', (cards) => cards.map((c) => c.dataset.id));
}

// Slows the page's downloads to `bytesPerSecond` (DevTools' network emulation; uploads are
// not slowed), as on a slow network. Returns a function that lifts the limit.
export async function throttleDownloads(context, page, bytesPerSecond) {
  const cdp = await context.newCDPSession(page);
  const set = (rate) => cdp.send('Network.emulateNetworkConditions',
    { offline: false, latency: 0, downloadThroughput: rate, uploadThroughput: -1 });
  await cdp.send('Network.enable');
  await set(bytesPerSecond);
  return async () => {
    await set(-1);
    await cdp.detach();
  };
}
