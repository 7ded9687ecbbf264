/**
 * The web UI's route on a real daemon, without a browser: content types and cache headers of its
 * files, the Host check, sign-in forms from another origin refused, the login token exchanged
 * for an HttpOnly SameSite=Strict cookie and a redirect to a clean address.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startDaemon } from '../../src/daemon/daemon.js';
import { withTempDir } from '../helpers/cli.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<RawAnswer>((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('web UI route', () => {
  test('files have their content type and revalidate by ETag; pages are not cached and carry a CSP', async () => {
    await withTempDir(async (root) => {
      const daemon = await startDaemon({
        host: '127.0.0.1',
        port: 0,
        dir: root,
        stateDir: join(root, 'state'),
      });
      try {
        for (const [path, type] of [
          ['/ui/app.js', 'text/javascript; charset=utf-8'],
          ['/ui/vendor/preact.mjs', 'text/javascript; charset=utf-8'],
          ['/ui/vendor/preact-hooks.mjs', 'text/javascript; charset=utf-8'],
          ['/ui/vendor/htm.mjs', 'text/javascript; charset=utf-8'],
          ['/ui/style.css', 'text/css; charset=utf-8'],
          ['/ui/icon.svg', 'image/svg+xml'],
        ] as const) {
          const first = await raw(`${daemon.url}${path}`);
          assert.equal(first.status, 200, path);
          assert.equal(first.headers['content-type'], type, path);
          assert.equal(first.headers['cache-control'], 'no-cache', path);
          const etag = String(first.headers.etag);
          const again = await raw(`${daemon.url}${path}`, { headers: { 'if-none-match': etag } });
          assert.equal(again.status, 304, `${path} revalidates`);
        }
        assert.equal((await raw(`${daemon.url}/ui/nothing.js`)).status, 404);
        const page = await raw(`${daemon.url}/`);
        assert.equal(page.status, 200);
        assert.match(page.body, /Daemon secret/, 'a stranger gets the sign-in page');
        assert.equal(page.headers['cache-control'], 'no-store');
        assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
      } finally {
        await daemon.close();
      }
    });
  });

  test('a foreign Host is refused; a sign-in form from another origin is refused even with the secret', async () => {
    await withTempDir(async (root) => {
      const daemon = await startDaemon({
        host: '127.0.0.1',
        port: 0,
        dir: root,
        stateDir: join(root, 'state'),
      });
      try {
        const rebound = await raw(`${daemon.url}/`, { headers: { host: `evil.example:${daemon.port}` } });
        assert.equal(rebound.status, 403);
        const form = {
          method: 'POST',
          body: `secret=${encodeURIComponent(daemon.secret)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
        };
        const foreign = await raw(`${daemon.url}/login`, form);
        assert.equal(foreign.status, 403);
        assert.equal(foreign.headers['set-cookie'], undefined);
        const own = await raw(`${daemon.url}/login`, {
          ...form,
          headers: { ...form.headers, origin: daemon.url },
        });
        assert.equal(own.status, 303);
        assert.match(String(own.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
      } finally {
        await daemon.close();
      }
    });
  });

  test('the login token becomes a cookie and a redirect to /, once', async () => {
    await withTempDir(async (root) => {
      const daemon = await startDaemon({
        host: '127.0.0.1',
        port: 0,
        dir: root,
        stateDir: join(root, 'state'),
      });
      try {
        const address = daemon.uiLoginUrl();
        assert.match(address, /^http:\/\/127\.0\.0\.1:\d+\/\?login=[\w-]{32}$/);
        const first = await raw(address);
        assert.equal(first.status, 303);
        assert.equal(first.headers.location, '/');
        const cookie = String(first.headers['set-cookie']);
        assert.match(
          cookie,
          new RegExp(`^ddm-session-${daemon.port}=[\\w-]+; Path=/; HttpOnly; SameSite=Strict$`),
        );
        const app = await raw(`${daemon.url}/`, { headers: { cookie: cookie.split(';')[0]! } });
        assert.match(app.body, /<script type="importmap">/, 'the cookie opens the app');
        const second = await raw(address);
        assert.equal(second.status, 303);
        assert.equal(second.headers['set-cookie'], undefined, 'the token works once');
      } finally {
        await daemon.close();
      }
    });
  });
});
