/**
 * `--refresh-cmd`: the first line is the new link; a failing, silent, slow or babbling command
 * is a clear LINK_EXPIRED error that never quotes a URL; the command is killed on timeout and on
 * abort, and the event loop keeps running meanwhile.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runRefreshCommand } from '../../src/client/refresh-command.js';

const context = { expiredUrl: 'https://cdn.example/file?sig=old', output: '/tmp/file' };
const signal = new AbortController().signal;

describe('the refresh command', () => {
  test('its first line is the new link; it sees the expired link and the output in its environment', async () => {
    const url = await runRefreshCommand(
      'echo; echo "https://cdn.example/file?sig=$(echo "$DDM_EXPIRED_URL" | cut -d= -f2)-new&o=$DDM_OUTPUT"; echo second',
      context,
      signal,
    );
    assert.equal(url, 'https://cdn.example/file?sig=old-new&o=/tmp/file');
  });

  test('a non-zero exit is an error quoting its stderr', async () => {
    await assert.rejects(runRefreshCommand('echo "token revoked" >&2; exit 4', context, signal), {
      code: 'LINK_EXPIRED',
      message: /exit status 4 \(it said: token revoked\)/,
    });
  });

  test('no line, or a line that is no http(s) URL, is an error that does not echo it', async () => {
    await assert.rejects(runRefreshCommand('true', context, signal), {
      code: 'LINK_EXPIRED',
      message: /printed no URL/,
    });
    await assert.rejects(
      runRefreshCommand('echo ftp://secret-token@host/x', context, signal),
      (error: Error) => {
        assert.match(error.message, /not an http\(s\) URL/);
        assert.doesNotMatch(error.message, /secret-token/);
        return true;
      },
    );
  });

  test('a command that takes too long is killed, its whole group, and the event loop ran meanwhile', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    const started = Date.now();
    try {
      await assert.rejects(runRefreshCommand('sleep 30 & sleep 30', { ...context, timeoutMs: 300 }, signal), {
        code: 'LINK_EXPIRED',
        message: /within 0.3 s and was stopped/,
      });
    } finally {
      clearInterval(ticker);
    }
    assert.ok(Date.now() - started < 10_000, 'killed, not waited for');
    assert.ok(ticks >= 5, `the event loop ran (${ticks} ticks)`);
  });

  test('aborting stops it', async () => {
    const controller = new AbortController();
    const running = runRefreshCommand('sleep 30', context, controller.signal);
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(running, { code: 'ABORTED' });
  });
});
