import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandLineFor } from '../../src/cli/command-line.js';

const URL_TEXT = 'http://127.0.0.1:8080/file.iso';

test('a boolean said through a --no- flag is said once, never as --no-no-', () => {
  const line = commandLineFor({ url: URL_TEXT, discover: false, local: false });
  assert.match(line, / --no-discover(?: |$)/);
  assert.match(line, / --no-local(?: |$)/);
  assert.doesNotMatch(line, /--no-no-/);
  assert.equal(line.split('--no-discover').length, 2, line);
});

test('a boolean turned on is its positive flag', () => {
  assert.match(commandLineFor({ url: URL_TEXT, discover: true }), / --discover(?: |$)/);
});

test('defaults are left out, lists repeat their flag, odd words are quoted, the secret never shows', () => {
  const line = commandLineFor({
    url: URL_TEXT,
    connections: 4,
    header: ['X-A: 1', 'X-B: 2'],
    secret: 'a-very-secret-swarm-key',
  });
  assert.match(line, /^DDM_SECRET=… ddm get http:\/\/127\.0\.0\.1:8080\/file\.iso /);
  assert.match(line, /--header 'X-A: 1' --header 'X-B: 2'/);
  assert.doesNotMatch(line, /a-very-secret/);
});

test('mirrors are said with --mirror, once each', () => {
  const line = commandLineFor({
    url: 'http://a.example/f',
    mirrors: ['http://b.example/f', 'http://c.example/f'],
  });
  assert.match(line, / --mirror http:\/\/b\.example\/f --mirror http:\/\/c\.example\/f(?: |$)/);
});
