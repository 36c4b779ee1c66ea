// Debian's Chromium (/usr/bin/chromium, from scripts/install-deps.sh), driven by playwright-core:
// headless, in a fresh profile directory that is removed when the browser closes. Playwright's
// own browser downloads are never used.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.LUMEN_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // /dev/shm is small in containers; the 60 MB upload check would crash the renderer there.
  '--disable-dev-shm-usage',
];

// A browser context with its own --user-data-dir (playwright passes the directory as that
// flag). close() closes it and deletes the profile.
export async function launchBrowser(options = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'lumen-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 800 },
      ...options,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  return {
    context,
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}
