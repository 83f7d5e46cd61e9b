// A real browser for the dashboard suites: Debian's Chromium (installed by
// .ci/run) driven by playwright-core, never a browser downloaded by Playwright.
// WHARF_CHROMIUM overrides the path.

import { chromium, type Browser, type Page } from 'playwright-core';
import { after, before } from 'node:test';

export const CHROMIUM_PATH = process.env.WHARF_CHROMIUM || '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
}

export interface BrowserScope {
  readonly browser: Browser;
}

/** One Chromium for the describe block (starting one costs about a second). */
export function useBrowser(): BrowserScope {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      if (!browser) throw new Error('useBrowser: not launched yet (read it inside a test or hook)');
      return browser;
    },
  };
}

/** Signs in on the dashboard's login form and waits for the app shell. */
export async function signIn(page: Page, baseUrl: string, user = 'guest', password = 'guest'): Promise<void> {
  await page.goto(baseUrl);
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('#whoami');
}
