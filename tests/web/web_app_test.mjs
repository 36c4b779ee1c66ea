// The web app `lumen serve` shows at /, in a real browser (Debian's Chromium via
// playwright-core, browser.mjs), against a `lumen serve --index` on the bundled model over an
// index of the 500 eval scenes. Run by CTest (tests/CMakeLists.txt, after npm_install.sh):
//   LUMEN_BIN=build/lumen node --test-reporter=spec tests/web/web_app_test.mjs
// Exits 77 (CTest's "skipped") under the sanitizer build, saying why.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launchBrowser } from './browser.mjs';
import {
  answerGrowth, ask, buildSceneIndex, cliAnswer, lastAnswer, openPage, recordAnswerGrowth, scenePath, searchGallery,
  shapesPng, startServer, throttleDownloads, waitForAnswer, waitForThumbnails,
} from './harness.mjs';

if (process.env.LUMEN_SKIP_SLOW_E2E === '1') {
  console.log('web app browser test: skipped under the sanitizer build (LUMEN_SKIP_SLOW_E2E=1): Chromium is not ' +
    'instrumented, the Release pass runs this test, and the server code the page calls (web assets, item images, ' +
    'auth exemption) is covered under the sanitizers by the gtest suites WebRoutes and ItemImage');
  process.exit(77);
}

const QUESTION = 'Describe the image.';

let tmp;
let server;
let browser;
let page;
let problems;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lumen-web-test-'));
  const started = performance.now();
  const index = await buildSceneIndex(tmp, 500);
  console.log(`# indexed the 500 eval scenes in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  server = await startServer(['--index', index]);
  browser = await launchBrowser();
  ({ page, problems } = await openPage(browser.context, server.url));
});

after(async () => {
  // Whatever happened above: close the browser, stop the server, delete the index.
  try {
    await browser?.close();
  } finally {
    try {
      await server?.stop();
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  }
});

describe('chat', () => {
  test('an uploaded image gets the CLI\'s answer, streamed', async () => {
    const expected = await cliAnswer(shapesPng, QUESTION);
    assert.ok(expected.length > 20, `lumen ask printed ${JSON.stringify(expected)}`);

    await page.setInputFiles('#file-input', shapesPng);
    await page.waitForSelector('#attachments img');
    // The bundled model writes this answer (23 tokens, one event each) in about 30 ms, which
    // a browser may well take in with a single read: downloads are slowed to a slow network's
    // 16 KiB/s so the events arrive spread out, as a large model's would, and the page must
    // draw each as it comes. (That the server sends one event per piece as it is generated is
    // checked by ServerHttp.StreamsServerSentEventsEndingWithDone.)
    const unthrottle = await throttleDownloads(browser.context, page, 16 * 1024);
    let answer;
    let lengths;
    try {
      await recordAnswerGrowth(page);
      answer = await ask(page, QUESTION);
      lengths = await answerGrowth(page);
    } finally {
      await unthrottle();
    }

    assert.equal(answer.error, null);
    assert.equal(answer.text, expected);
    // Streaming: the text was seen at two or more lengths before its last.
    const seen = [...new Set(lengths.filter((n) => n > 0))];
    console.log(`# the answer's length as it streamed in: ${seen.join(', ')}`);
    assert.ok(seen.length >= 2, `the answer appeared in ${seen.length} step(s): ${JSON.stringify(lengths)}`);
    assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]), `the text only grows: ${JSON.stringify(seen)}`);
    assert.equal(seen.at(-1), expected.length);

    assert.match(answer.stats, /TTFT \d+ ms · [\d.]+ tok\/s · \d+ tokens · prompt \d+/);
    const thumbnail = page.locator('article.message.user img');
    assert.ok(await thumbnail.evaluate((img) => img.naturalWidth > 0), 'the image shows as a thumbnail');
    assert.equal(await page.locator('#attachments img').count(), 0, 'the composer is cleared');
  });

  test('a follow-up question reuses the cached prompt', async () => {
    const answer = await ask(page, 'What color is the small circle?');
    assert.equal(answer.error, null);
    assert.ok(answer.text.length > 0);
    const cached = answer.stats.match(/cached (\d+)/);
    assert.ok(cached && Number(cached[1]) > 0, `stats: ${answer.stats}`);
    assert.equal(await page.locator('article.message').count(), 4);
  });

  test('conversations are kept in the browser and listed in the sidebar', async () => {
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('article.message').count(), 4);
    assert.equal(await page.locator(`${lastAnswer} .message-stats`).textContent().then((s) => /cached \d+/.test(s)), true);
    const item = page.locator('.conversation-open[aria-current="true"]');
    assert.equal(await item.textContent(), QUESTION);
  });

  test('regenerate and edit-and-resend', async () => {
    const before = await page.locator(`${lastAnswer} .message-text`).textContent();
    await page.click(`${lastAnswer} [data-action="regenerate"]`);
    const again = await waitForAnswer(page, 4);
    assert.equal(again.text, before, 'greedy: the same answer again');

    // Edit the first question: everything after it is replaced by the new answer.
    await page.click('article.message.user >> nth=0 >> [data-action="edit"]');
    await page.fill('.edit-text', QUESTION);
    await page.click('text=Save and send');
    const edited = await waitForAnswer(page, 2);
    assert.equal(edited.text, await cliAnswer(shapesPng, QUESTION));
  });

  test('copy puts the answer on the clipboard', async () => {
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await page.click(`${lastAnswer} [data-action="copy"]`);
    await page.waitForSelector(`${lastAnswer} [data-action="copy"]:text("Copied")`);
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, await page.locator(`${lastAnswer} .message-text`).textContent());
  });

  test('Stop ends a long answer', async () => {
    await page.click('#new-chat');
    await page.click('#settings-open');
    await page.fill('#set-max-tokens', '100000');
    await page.check('#set-ignore-eos');
    await page.click('#settings-save');
    // The bundled model writes its whole context (about 470 tokens, 120 KB of events) in
    // under a second; on a slow network (16 KiB/s) the answer takes seconds to arrive, time
    // for a person, or this test, to press Stop once the first words show.
    const unthrottle = await throttleDownloads(browser.context, page, 16 * 1024);
    let answer;
    try {
      await page.fill('#prompt', 'Tell me a long story about the shapes.');
      await page.click('#send');
      await page.waitForFunction((selector) => document.querySelector(`${selector} .message-text`)?.textContent.length > 0,
        lastAnswer);
      await page.click('#stop');
      answer = await waitForAnswer(page, 2);
    } finally {
      await unthrottle();
    }
    assert.equal(answer.error, null);
    assert.ok(answer.text.length > 0);
    assert.match(answer.stats, /stopped$/, `stats: ${answer.stats}`);
    const tokens = Number(answer.stats.match(/(\d+) tokens/)[1]);
    assert.ok(tokens < 400, `stopped after ${tokens} tokens`);
    assert.ok(await page.locator('#send').isVisible(), 'Send is back');
    assert.ok(await page.locator('#stop').isHidden(), 'Stop is gone');

    await page.click('#settings-open');
    await page.click('#settings-reset');
    await page.click('#settings-save');
  });

  test('a 60 MB image shows the server\'s 413 message', async () => {
    await page.click('#new-chat');
    const big = join(tmp, 'big.png');
    const bytes = Buffer.alloc(60 << 20);
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1').copy(bytes);
    writeFileSync(big, bytes);
    await page.setInputFiles('#file-input', big);
    // (Polled: Playwright's default waiting walks attributes, and this one is 80 MB long.)
    await page.waitForFunction(() => document.querySelector('#attachments img'), null, { polling: 100 });
    const answer = await ask(page, QUESTION);
    assert.match(answer.error ?? '', /^Error 413: the request body is too large/);
    assert.ok(await page.locator('#send').isVisible(), 'no stuck spinner: Send is back');
    await page.click('#new-chat');
  });
});

describe('gallery', () => {
  test('text search shows results with thumbnails, scores and metadata', async () => {
    await searchGallery(page, 'a red circle');
    const ids = await waitForThumbnails(page);
    assert.equal(ids.length, 20);
    for (const id of ids) assert.match(id, /^scene_\d{4}$/);
    const first = page.locator('#results .card').first();
    assert.match(await first.locator('.card-score').textContent(), /^\d\.\d{3}$/);
    assert.equal(await first.locator('.card-meta dd').first().textContent(), 'eval/shapes');
  });

  test('thumbs up on two items, then recommend: results leave them out', async () => {
    const liked = await page.$$eval('#results .card', (cards) => cards.slice(0, 2).map((c) => c.dataset.id));
    for (const id of liked) await page.click(`#results .card[data-id="${id}"] .rate-like`);
    assert.equal(await page.locator('#results .rate-like[aria-pressed="true"]').count(), 2);
    await page.locator('#diversity').fill('0.5');
    assert.equal(await page.locator('#diversity-value').textContent(), '0.50');
    await page.click('#recommend');
    await page.waitForFunction(() => document.querySelector('#gallery-status').textContent.startsWith('Recommended from 2 liked'));
    const ids = await waitForThumbnails(page);
    assert.equal(ids.length, 20);
    for (const id of liked) assert.ok(!ids.includes(id), `${id} was liked, yet recommended`);
  });

  test('an image searches by image', async () => {
    await page.setInputFiles('#search-file', scenePath(7));
    await page.waitForFunction(() => document.querySelector('#gallery-status').textContent.startsWith('Images like scene_0007.png'));
    const ids = await waitForThumbnails(page);
    assert.equal(ids[0], 'scene_0007');
    await page.click('#tab-chat');
  });
});

describe('page', () => {
  test('a phone-width screen: no sideways scrolling, the drawer opens from the keyboard', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'fits 375 px');
    assert.ok(await page.locator('#sidebar').isHidden());
    await page.focus('#sidebar-toggle');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#sidebar', { state: 'visible' });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'new-chat');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#sidebar', { state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'sidebar-toggle');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('keyboard only: every control is named, focus is visible, Enter sends', async () => {
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
    // Every visible control says what it is.
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, input, select, textarea, [role="tab"]')]
      .filter((e) => e.offsetParent !== null && e.type !== 'hidden')
      .filter((e) => !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim()))
      .map((e) => e.outerHTML.slice(0, 80)));
    assert.deepEqual(unnamed, []);
    // Tab reaches the message box, with a visible focus ring, and Enter sends.
    for (let i = 0; i < 30 && await page.evaluate(() => document.activeElement.id) !== 'prompt'; i++) {
      await page.keyboard.press('Tab');
    }
    assert.equal(await page.evaluate(() => document.activeElement.id), 'prompt');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, 'solid');
    const before = await page.locator('article.message').count();
    await page.keyboard.type('How many objects are in the image?');
    await page.keyboard.press('Enter');
    const answer = await waitForAnswer(page, before + 2);
    assert.equal(answer.error, null);
    assert.ok(answer.text.length > 0);
  });

  test('the status dot shows the model and the queue', async () => {
    await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'ok');
    assert.match(await page.locator('#status-text').textContent(), /^imp-shapes · queue \d+ · running \d+$/);
  });

  test('nothing went wrong in the page', () => {
    assert.deepEqual(problems, []);
  });
});

describe('API key', () => {
  test('the page loads without the key, asks for it once, and keeps it for the tab', async () => {
    const keyed = await startServer(['--api-key', 'web-test-key']);
    const other = await launchBrowser();
    try {
      const p = await other.context.newPage();
      await p.goto(`${keyed.url}/`);
      // The page and its files need no key; the first API call asks for one.
      await p.waitForSelector('#key-dialog[open]');
      await p.fill('#key-input', 'wrong-key');
      await p.click('#key-dialog button[type="submit"]');
      await p.waitForFunction(() => document.querySelector('#notice').textContent.startsWith('Error 401: invalid API key'));
      // The gallery's probe asks again; the right key is kept in sessionStorage.
      await p.waitForSelector('#key-dialog[open]');
      await p.fill('#key-input', 'web-test-key');
      await p.click('#key-dialog button[type="submit"]');
      await p.waitForSelector('body[data-ready="true"]');
      assert.equal(await p.evaluate(() => sessionStorage.getItem('lumen.apiKey')), 'web-test-key');
      const answer = await ask(p, 'Hello');
      assert.equal(answer.error, null);
      assert.ok(await p.locator('#key-dialog').evaluate((d) => !d.open), 'asked no more');
      await p.click('#tab-gallery');
      assert.match(await p.locator('#gallery-unavailable').textContent(), /no index/);
    } finally {
      await other.close();
      await keyed.stop();
    }
  });
});
