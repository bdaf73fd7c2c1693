import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium, which test/prepare.sh installs; playwright-core only drives it. */
const CHROMIUM = '/usr/bin/chromium';

/**
 * Launches Debian's Chromium headless, as the browser e2e suites drive it. A missing Chromium
 * throws at once, before this returns (a suite fails, it never skips), so a caller that starts
 * other things beside the browser can call this first and start nothing in vain.
 */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run "bash test/prepare.sh" (npm test does), or apt-get install chromium`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
