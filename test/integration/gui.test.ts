/**
 * The web UI in a real browser (Debian's chromium through playwright-core) against real
 * `ddm daemon` processes and a real origin on 127.0.0.1: signing in, adding a download by its
 * URL and watching it finish byte-identical, pausing and resuming from the list, a helper
 * daemon's piece-map colour and its help request answered in its own UI, settings kept across
 * a restart. Every page is photographed at desktop and 360 px, light and dark, into
 * test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  launchBrowser,
  navigateTo,
  openSignedIn,
  screenshotEveryWay,
  startUiDaemon,
  UI_WAIT_MS,
  waitForConnection,
} from '../helpers/browser.js';
import { sha256, sha256OfFile, testData, withTempDir } from '../helpers/cli.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { startTestOrigin } from '../helpers/test-origin.js';

/** The page's own address, inside page.evaluate (the tests compile without the DOM's types). */
declare const location: { host: string };

const MiB = 1024 * 1024;
/** A download of a few MiB finishes within this long even on a loaded 2-core machine. */
const FINISH_MS = 60_000;

/** A JSON-RPC call made by the page itself, over its own WebSocket: what the page is allowed to do. */
function callFromPage(
  page: Page,
  method: string,
): Promise<{ result?: unknown; error?: { message: string } }> {
  return page.evaluate(
    (rpcMethod) =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(`ws://${location.host}/jsonrpc`);
        const timer = setTimeout(() => reject(new Error('no answer')), 10_000);
        socket.onerror = () => {
          clearTimeout(timer);
          resolve({ error: { message: 'the socket was refused' } });
        };
        socket.onopen = () =>
          socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: rpcMethod, params: [] }));
        socket.onmessage = (event) => {
          const message = JSON.parse(String(event.data));
          if (message.id !== 1) return;
          clearTimeout(timer);
          socket.close();
          resolve(message);
        };
      }),
    method,
  );
}

function row(page: Page, name: string) {
  return page.locator('li.download-row', { has: page.locator('.download-name', { hasText: name }) });
}

describe('web UI', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  test('sign-in is refused without the secret and with a wrong one; the printed address signs in once, to a clean URL', async () => {
    await withTempDir(async (root) => {
      const daemon = await startUiDaemon(join(root, 'state'), root);
      try {
        const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
        const page = await context.newPage();
        await page.goto(`${daemon.url}/`, { timeout: UI_WAIT_MS });
        await page.getByLabel('Daemon secret').waitFor({ timeout: UI_WAIT_MS });
        assert.equal(await page.locator('#app').count(), 0, 'the app is not served to a stranger');
        const stranger = await callFromPage(page, 'ddm.tellAll');
        assert.ok(stranger.error, `the RPC refuses a browser without a session: ${JSON.stringify(stranger)}`);
        await screenshotEveryWay(page, 'sign-in');

        const empty = await page.evaluate(async () => {
          const response = await fetch('/login', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'secret=',
          });
          return response.status;
        });
        assert.equal(empty, 401, 'no secret: refused');

        await page.getByLabel('Daemon secret').fill('not-the-secret');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page
          .getByRole('alert')
          .filter({ hasText: 'not this daemon’s secret' })
          .waitFor({ timeout: UI_WAIT_MS });
        assert.deepEqual(await context.cookies(), [], 'a wrong secret gets no cookie');
        await screenshotEveryWay(page, 'sign-in-refused');

        await page.getByLabel('Daemon secret').fill(daemon.secret);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await waitForConnection(page);
        const allowed = await callFromPage(page, 'ddm.tellAll');
        assert.deepEqual(allowed.result, [], 'signed in, the RPC answers without a token');

        // The keyboard reaches the app: a skip link first, then the navigation, with a visible focus ring.
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to content');
        for (let press = 0; press < 3; press++) await page.keyboard.press('Tab');
        assert.equal(await page.evaluate('document.activeElement.textContent'), 'Add');
        assert.notEqual(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle'), 'none');
        await page.keyboard.press('Enter');
        await page.getByLabel('URL').waitFor({ timeout: UI_WAIT_MS });
        await context.close();

        const printed = await browser.newContext();
        const first = await printed.newPage();
        await first.goto(daemon.loginUrl, { timeout: UI_WAIT_MS });
        await waitForConnection(first);
        assert.equal(first.url(), `${daemon.url}/`, 'the token leaves the address bar');
        const [cookie] = await printed.cookies();
        assert.ok(cookie, 'a session cookie');
        assert.equal(cookie.httpOnly, true);
        assert.equal(cookie.sameSite, 'Strict');
        await printed.close();

        const again = await browser.newContext();
        const second = await again.newPage();
        await second.goto(daemon.loginUrl, { timeout: UI_WAIT_MS });
        await second.getByLabel('Daemon secret').waitFor({ timeout: UI_WAIT_MS });
        assert.deepEqual(await again.cookies(), [], 'the printed address works once');
        await again.close();
      } finally {
        await daemon.stop();
      }
    });
  });

  test('a URL typed into the field labelled URL and Download pressed: paused and resumed from the list, it finishes byte-identical', async () => {
    const data = testData(6 * MiB + 123, 7);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 256 * 1024 });
    try {
      await withTempDir(async (root) => {
        const daemon = await startUiDaemon(join(root, 'state'), root);
        try {
          const { context, page, errors } = await openSignedIn(browser, daemon);
          await page.getByText('Nothing downloaded yet').waitFor({ timeout: UI_WAIT_MS });
          await screenshotEveryWay(page, 'downloads-empty');
          await navigateTo(page, 'Add');
          await page.getByLabel('URL').fill('not an address');
          await page.getByRole('button', { name: 'Download' }).click();
          await page
            .locator('#add-url-error')
            .filter({ hasText: 'not an http' })
            .waitFor({ timeout: UI_WAIT_MS });
          await page.getByLabel('URL').fill(`${origin.url}/gui-test.bin`);
          await page.getByLabel('Connections').fill('100000');
          await page.getByRole('button', { name: 'Download' }).click();
          await page.locator('#add-connections-error').waitFor({ timeout: UI_WAIT_MS });
          await screenshotEveryWay(page, 'add-refused');
          await page.getByLabel('Connections').fill('');
          await screenshotEveryWay(page, 'add');
          await page.getByRole('button', { name: 'Download' }).click();
          await page.getByRole('heading', { name: 'gui-test.bin' }).waitFor({ timeout: UI_WAIT_MS });

          await page
            .getByRole('navigation', { name: 'Main' })
            .getByRole('link', { name: 'Downloads' })
            .click();
          const line = row(page, 'gui-test.bin');
          await line.getByText('Downloading').waitFor({ timeout: UI_WAIT_MS });
          await line.getByRole('button', { name: 'Pause gui-test.bin' }).click();
          await line.getByText('Paused').waitFor({ timeout: UI_WAIT_MS });
          const pausedAt = origin.bytesServed;
          await screenshotEveryWay(page, 'downloads-paused');
          await line.getByRole('button', { name: 'Resume gui-test.bin' }).click();
          await line.getByText('Downloading').waitFor({ timeout: UI_WAIT_MS });
          origin.options.rateBytesPerSec = undefined;
          await line.getByText('Finished').waitFor({ timeout: FINISH_MS });
          assert.ok(origin.bytesServed > pausedAt, 'resumed: the origin served more after the pause');
          assert.equal(await sha256OfFile(join(root, 'gui-test.bin')), sha256(data));
          await screenshotEveryWay(page, 'downloads-finished');

          await line.getByRole('link', { name: 'Details of gui-test.bin' }).click();
          await page.getByRole('heading', { name: 'Piece map' }).waitFor({ timeout: UI_WAIT_MS });
          await page.locator('.piece-map [data-source]').first().waitFor({ timeout: UI_WAIT_MS });
          assert.match(await page.locator('.command-text').innerText(), /^ddm get .*gui-test\.bin/);
          // The preview link: the file itself, from the daemon, at the download's stable address.
          const open = page.getByRole('link', { name: 'Open', exact: true });
          await open.waitFor({ timeout: UI_WAIT_MS });
          const href = (await open.getAttribute('href')) ?? '';
          assert.match(href, /^\/preview\/[0-9a-f]+\/[0-9a-f]{32}$/);
          const served = await fetch(`${daemon.url}${href}`, { signal: AbortSignal.timeout(30_000) });
          assert.equal(served.status, 200);
          assert.equal(sha256(Buffer.from(await served.arrayBuffer())), sha256(data));
          await screenshotEveryWay(page, 'detail-local');
          assert.deepEqual(errors, [], 'no script error in the page');
          await context.close();
        } finally {
          await daemon.stop();
        }
      });
    } finally {
      await origin.close();
    }
  });

  test('a download whose link expired: another file is refused under the field, a new link pasted in its page finishes it', async () => {
    const data = testData(3 * MiB + 9, 18);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 512 * 1024, expiringLinks: {} });
    const other = await startTestOrigin({ data: data.subarray(5) });
    try {
      await withTempDir(async (root) => {
        const daemon = await startUiDaemon(join(root, 'state'), root);
        try {
          const { context, page, errors } = await openSignedIn(browser, daemon);
          await navigateTo(page, 'Add');
          await page.getByLabel('URL').fill(origin.signedUrl(60_000, 'gui-expiry.bin'));
          // One connection asks for one piece at a time: the link expires between two of them.
          await page.getByLabel('Connections').fill('1');
          await page.getByRole('button', { name: 'Download' }).click();
          await page.getByRole('heading', { name: 'gui-expiry.bin' }).waitFor({ timeout: UI_WAIT_MS });
          const deadline = Date.now() + UI_WAIT_MS;
          while (origin.bytesServed < 256 * 1024 && Date.now() < deadline) await page.waitForTimeout(50);
          origin.options.clockOffsetMs = 120_000;
          await page.getByRole('heading', { name: 'The link has expired' }).waitFor({ timeout: FINISH_MS });
          await screenshotEveryWay(page, 'detail-link-expired');

          await page.getByLabel('New link').fill(`${other.url}/gui-expiry.bin`);
          await page.getByRole('button', { name: 'Use this link' }).click();
          await page
            .locator('#relink-url-error')
            .filter({ hasText: 'not the same file' })
            .waitFor({ timeout: UI_WAIT_MS });
          await screenshotEveryWay(page, 'detail-link-refused');
          assert.match(await page.locator('.stat .badge').innerText(), /Link expired/);

          await navigateTo(page, 'Downloads');
          const line = row(page, 'gui-expiry.bin');
          await line.getByText('Link expired', { exact: true }).waitFor({ timeout: UI_WAIT_MS });
          await screenshotEveryWay(page, 'downloads-link-expired');
          await line.getByRole('link', { name: 'Paste a new link for gui-expiry.bin' }).click();
          await page.getByLabel('New link').fill(origin.signedUrl(3_600_000, 'gui-expiry.bin'));
          await page.getByRole('button', { name: 'Use this link' }).click();
          await page
            .getByRole('heading', { name: 'The link has expired' })
            .waitFor({ state: 'detached', timeout: UI_WAIT_MS });
          origin.options.rateBytesPerSec = undefined;
          await page.locator('.stat .badge', { hasText: 'Finished' }).waitFor({ timeout: FINISH_MS });
          assert.equal(await sha256OfFile(join(root, 'gui-expiry.bin')), sha256(data));
          assert.deepEqual(errors, [], 'no script error in the page');
          await context.close();
        } finally {
          await daemon.stop();
        }
      });
    } finally {
      await Promise.all([origin.close(), other.close()]);
    }
  });

  test('two URLs added at once, started paused, selected together and resumed from the selection bar: both finish byte-identical', async () => {
    const data = testData(2 * MiB + 77, 9);
    const origin = await startTestOrigin({ data });
    try {
      await withTempDir(async (root) => {
        const daemon = await startUiDaemon(join(root, 'state'), root);
        try {
          const { context, page, errors } = await openSignedIn(browser, daemon);
          await navigateTo(page, 'Add');
          await page.getByLabel('URL').fill(`${origin.url}/first.bin\n${origin.url}/second.bin`);
          await page.getByLabel('Start paused').check();
          await page.getByRole('button', { name: 'Download' }).click();
          for (const name of ['first.bin', 'second.bin']) {
            await row(page, name).getByText('Paused').waitFor({ timeout: UI_WAIT_MS });
          }
          assert.equal(origin.bytesServed, 0, 'added paused: neither started');
          await page.getByLabel('Select first.bin').check();
          await page.getByLabel('Select second.bin').check();
          const bar = page.getByRole('toolbar', { name: 'Selected downloads' });
          await bar.getByText('2 selected').waitFor({ timeout: UI_WAIT_MS });
          await bar.getByRole('button', { name: 'Resume' }).click();
          for (const name of ['first.bin', 'second.bin']) {
            await row(page, name).getByText('Finished').waitFor({ timeout: FINISH_MS });
            assert.equal(await sha256OfFile(join(root, name)), sha256(data));
          }
          assert.deepEqual(errors, [], 'no script error in the page');
          await context.close();
        } finally {
          await daemon.stop();
        }
      });
    } finally {
      await origin.close();
    }
  });

  test('a helper daemon in ask mode: its UI shows the help request, Yes is pressed, and the piece map shows two colours', async () => {
    const data = testData(12 * MiB + 7, 8);
    const origin = await startTestOrigin({ data, rateBytesPerSec: 128 * 1024 });
    try {
      await withTempDir(async (root) => {
        const swarm = ['--secret', TEST_SECRET, '--no-discover'];
        const helper = await startUiDaemon(join(root, 'helper-state'), join(root, 'helper-dir'), [
          ...swarm,
          '--helper',
          '--accept',
          'ask',
          '--allow-private',
          '--name',
          'helper-daemon',
        ]);
        const client = await startUiDaemon(join(root, 'client-state'), root, [
          ...swarm,
          '--peer',
          helper.url,
          '--name',
          'client-daemon',
        ]);
        try {
          const helperUi = await openSignedIn(browser, helper);
          const clientUi = await openSignedIn(browser, client);
          await navigateTo(clientUi.page, 'Add');
          await clientUi.page.getByLabel('URL').fill(`${origin.url}/helped.bin`);
          await clientUi.page.getByRole('button', { name: 'Download' }).click();
          await clientUi.page.getByRole('heading', { name: 'helped.bin' }).waitFor({ timeout: UI_WAIT_MS });

          const request = helperUi.page.getByRole('alertdialog').filter({ hasText: 'helped.bin' });
          await request.waitFor({ timeout: UI_WAIT_MS });
          assert.match(await request.innerText(), /127\.0\.0\.1/, 'who asks');
          assert.match(await request.innerText(), /12\.0 MiB/);
          assert.match(await request.innerText(), /Counts as no in/);
          await screenshotEveryWay(helperUi.page, 'help-request', { fullPage: false });
          await request.getByRole('button', { name: 'Yes' }).click();
          await request.waitFor({ state: 'detached', timeout: UI_WAIT_MS });

          const colours = async () =>
            clientUi.page
              .locator('.piece-map [data-source]')
              .evaluateAll((cells) => [
                ...new Set(
                  cells.map((cell) => `${cell.getAttribute('data-source')} ${cell.getAttribute('style')}`),
                ),
              ]);
          const deadline = Date.now() + FINISH_MS;
          let seen: string[] = [];
          while (Date.now() < deadline) {
            seen = await colours();
            if (
              seen.some((entry) => entry.startsWith('peer:')) &&
              seen.some((entry) => entry.startsWith('local'))
            )
              break;
            await clientUi.page.waitForTimeout(250);
          }
          const owners = new Set(seen.map((entry) => entry.split(' ')[0]));
          const fills = new Set(seen.map((entry) => entry.slice(entry.indexOf(' ') + 1)));
          assert.ok(
            owners.size >= 2 && fills.size >= 2,
            `two sources, two colours in the map: ${seen.join(', ')}`,
          );
          await clientUi.page.locator('.legend').getByText('helper-daemon').waitFor({ timeout: UI_WAIT_MS });
          await screenshotEveryWay(clientUi.page, 'detail-helper');
          origin.options.rateBytesPerSec = undefined;

          await navigateTo(clientUi.page, 'Downloads');
          await row(clientUi.page, 'helped.bin').getByText('Finished').waitFor({ timeout: FINISH_MS });
          assert.equal(await sha256OfFile(join(root, 'helped.bin')), sha256(data));
          await screenshotEveryWay(clientUi.page, 'downloads-helped');

          await navigateTo(helperUi.page, 'Swarm');
          await helperUi.page
            .getByRole('heading', { name: 'This machine as a helper' })
            .waitFor({ timeout: UI_WAIT_MS });
          await screenshotEveryWay(helperUi.page, 'swarm-helper');
          await navigateTo(clientUi.page, 'Swarm');
          await clientUi.page
            .getByRole('heading', { name: 'Helpers this machine knows' })
            .waitFor({ timeout: UI_WAIT_MS });
          await screenshotEveryWay(clientUi.page, 'swarm-client');
          assert.deepEqual([...helperUi.errors, ...clientUi.errors], [], 'no script error in the pages');
          await helperUi.context.close();
          await clientUi.context.close();
        } finally {
          await client.stop();
          await helper.stop();
        }
      });
    } finally {
      await origin.close();
    }
  });

  test('a setting changed in the UI is kept when the daemon restarts', async () => {
    await withTempDir(async (root) => {
      const stateHome = join(root, 'state');
      const first = await startUiDaemon(stateHome, root);
      try {
        const { context, page, errors } = await openSignedIn(browser, first);
        await navigateTo(page, 'Settings');
        await page.getByLabel('Downloads at once').fill('7');
        await page.getByLabel('Speed limit in total').fill('3M');
        await page.getByRole('button', { name: 'Save settings' }).click();
        await page.getByText('Settings saved.').waitFor({ timeout: UI_WAIT_MS });
        await screenshotEveryWay(page, 'settings');
        assert.deepEqual(errors, [], 'no script error in the page');
        await context.close();
      } finally {
        await first.stop();
      }
      const second = await startUiDaemon(stateHome, root);
      try {
        const { context, page } = await openSignedIn(browser, second);
        await navigateTo(page, 'Settings');
        await page.getByLabel('Downloads at once').waitFor({ timeout: UI_WAIT_MS });
        assert.equal(await page.getByLabel('Downloads at once').inputValue(), '7');
        assert.equal(await page.getByLabel('Speed limit in total').inputValue(), '3M');
        await context.close();
      } finally {
        await second.stop();
      }
    });
  });
});
