import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TEST_PASSWORD } from './agentConfig.ts';

/** Debian's Chromium, headless, with the flags this closed network needs (playwright gives it a fresh profile). */
export async function launchChromium(extraArgs: string[] = []): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`${executablePath} is missing: apt-get install chromium`);
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

/** A new page on the IT console at `base` (an agent from writeAgentConfig), logged in, in a Vietnamese hospital's time zone. */
export async function consolePage(browser: Browser, base: string): Promise<Page> {
  const page = await browser.newPage({ timezoneId: 'Asia/Ho_Chi_Minh' });
  await page.goto(`${base}/console/`);
  await page.fill('input[name=password]', TEST_PASSWORD);
  await page.click('form#login button[type=submit]');
  await page.waitForSelector('#app:not([hidden])');
  if (await page.isVisible('form#login')) throw new Error('the login form is still shown after logging in');
  return page;
}
