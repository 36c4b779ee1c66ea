// Screenshots of the web app for the README, made the same way the browser test drives it:
// `lumen serve --index` over the 500 eval scenes, a chat about examples/shapes.png with a
// follow-up, and a gallery search with two liked items, at 1280x800 and 375x812. Writes
// docs/images/web-{chat,gallery}-{desktop,phone}.png.
//   cd tests/web && npm run screenshots     (LUMEN_BIN defaults to build/lumen)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { launchBrowser } from './browser.mjs';
import { ask, buildSceneIndex, openPage, repoDir, searchGallery, shapesPng, startServer } from './harness.mjs';

process.env.LUMEN_BIN ??= join(repoDir, 'build', 'lumen');
const outDir = join(repoDir, 'docs', 'images');
const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 375, height: 812 } };

const tmp = mkdtempSync(join(tmpdir(), 'lumen-screenshots-'));
let server;
let browser;
try {
  server = await startServer(['--index', await buildSceneIndex(tmp, 500)]);
  browser = await launchBrowser({ colorScheme: 'light' });
  const { page } = await openPage(browser.context, server.url);
  await page.setInputFiles('#file-input', shapesPng);
  await ask(page, 'Describe the image.');
  await ask(page, 'What color is the small circle?');
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'ok');
  mkdirSync(outDir, { recursive: true });
  const shoot = async (name, size) => {
    await page.setViewportSize(SIZES[size]);
    await page.evaluate(() => document.activeElement?.blur());
    await page.waitForTimeout(300);  // layout and the scroll position settle
    const file = join(outDir, `web-${name}-${size}.png`);
    await page.screenshot({ path: file });
    console.log(`wrote ${file}`);
  };
  await shoot('chat', 'desktop');
  await shoot('chat', 'phone');

  await page.setViewportSize(SIZES.desktop);
  await searchGallery(page, 'a red circle');
  const ids = await page.$$eval('#results .card', (cards) => cards.slice(0, 2).map((c) => c.dataset.id));
  for (const id of ids) await page.click(`#results .card[data-id="${id}"] .rate-like`);
  await shoot('gallery', 'desktop');
  await shoot('gallery', 'phone');
} finally {
  await browser?.close();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
