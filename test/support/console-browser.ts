/**
 * Headless Chromium for the console's browser tests: Debian's chromium (apt-get install chromium),
 * driven by playwright-core. A browser is never downloaded; without one the tests fail and say what
 * to install. Screenshots go to test-results/console/ (git-ignored).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { projectRoot } from '../../gateway/foundation/paths.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.join(projectRoot, 'test-results', 'console');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: the console's browser tests need Debian's chromium. Install it with ` +
        '`apt-get install chromium` (never a downloaded browser).',
    );
  }
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export async function screenshot(page: Page, view: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${view}.png`), fullPage: true });
}

/** The `name=value` of a Set-Cookie header, for sending it back from Node. */
export function cookiePair(setCookie: string | null): string {
  return (setCookie ?? '').split(';')[0] ?? '';
}
