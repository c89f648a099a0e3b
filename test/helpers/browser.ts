// Debian's chromium driven by playwright-core for the viewer's tests: one
// place for where it is and how it is started (headless, offline, a fresh
// profile, no sandbox: the tests run as root).

import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { expect } from "vitest";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** A headless, offline chromium with a fresh profile (close it when done). */
export async function launchChromium(): Promise<BrowserContext> {
  expect(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install chromium; .ci/run installs it)`).toBe(true);
  return await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "rar-chromium-")), {
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    offline: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
