/**
 * A real browser for the web UI's tests: Debian's chromium driven by playwright-core (never a
 * downloaded browser), and `ddm daemon` processes whose printed address opens the UI signed in.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type RunningCli, startCli } from './cli.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';
/** Where the tests write their screenshots (git ignores it). */
export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../test-output/screenshots');
/** A page's element or state is there within this long, even on a loaded 2-core machine. */
export const UI_WAIT_MS = 20_000;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'], timeout: 30_000 });
}

export interface UiDaemon {
  cli: RunningCli;
  /** http://127.0.0.1:PORT */
  url: string;
  /** The address printed on start: `/?login=TOKEN`, good once. */
  loginUrl: string;
  secret: string;
  stateHome: string;
  stop(): Promise<void>;
}

export async function startUiDaemon(
  stateHome: string,
  dir: string,
  extraArgs: readonly string[] = [],
): Promise<UiDaemon> {
  const cli = startCli(['daemon', '--listen', '127.0.0.1:0', '--dir', dir, ...extraArgs], {
    XDG_STATE_HOME: stateHome,
  });
  const match = await cli.waitFor(/web UI at (http:\/\/127\.0\.0\.1:\d+)(\/\?login=\S+)/);
  const secret = (await readFile(join(stateHome, 'ddm', 'daemon-secret'), 'utf8')).trim();
  return {
    cli,
    url: match[1]!,
    loginUrl: `${match[1]}${match[2]}`,
    secret,
    stateHome,
    stop: async () => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGTERM');
      await cli.exited;
    },
  };
}

export interface SignedIn {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors of the page's scripts: a test ends by checking there were none. */
  errors: string[];
}

/**
 * Waits until the app's RPC connection is open. A timeout says where the page was and what it
 * showed, with a screenshot (`connection-timeout.png`), so that a failure seen once in a full
 * run can be read afterwards.
 */
export async function waitForConnection(page: Page): Promise<void> {
  try {
    await page.locator('.connection-open').waitFor({ timeout: UI_WAIT_MS });
  } catch (error) {
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'connection-timeout.png') }).catch(() => {});
    const status = await page
      .locator('.connection')
      .first()
      .getAttribute('class', { timeout: 1_000 })
      .catch(() => null);
    const body = await page
      .locator('body')
      .innerText({ timeout: 1_000 })
      .catch(() => '');
    throw new Error(
      `the UI did not connect within ${UI_WAIT_MS} ms: at ${page.url()}, status ${status ?? 'absent'}, page text ${JSON.stringify(body.slice(0, 300))}`,
      { cause: error },
    );
  }
}

/** A fresh browser profile (no cookies) with the UI open and connected to the daemon. */
export async function openSignedIn(browser: Browser, daemon: UiDaemon, width = 1280): Promise<SignedIn> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(daemon.loginUrl, { timeout: UI_WAIT_MS });
  await waitForConnection(page);
  return { context, page, errors };
}

/** Goes to one of the app's pages through its navigation, as a person would. */
export async function navigateTo(
  page: Page,
  name: 'Downloads' | 'Add' | 'Swarm' | 'Settings',
): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

const SHOT_SIZES = [
  { name: 'desktop', width: 1280, height: 860 },
  { name: 'phone', width: 360, height: 780 },
] as const;

/**
 * The page as it is now, at desktop and 360 px wide, light and dark: four PNGs named
 * `<name>-<desktop|phone>-<light|dark>.png`. The viewport is put back afterwards.
 */
export async function screenshotEveryWay(page: Page, name: string, options: { fullPage?: boolean } = {}) {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const before = page.viewportSize();
  // A full-page shot of a scrolled page draws the sticky header where the scroll left it.
  await page.evaluate('window.scrollTo(0, 0)');
  for (const size of SHOT_SIZES) {
    await page.setViewportSize({ width: size.width, height: size.height });
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      await page.screenshot({
        path: join(SCREENSHOT_DIR, `${name}-${size.name}-${colorScheme}.png`),
        fullPage: options.fullPage ?? true,
        animations: 'disabled',
      });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  if (before) await page.setViewportSize(before);
}
