import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDownloadRequest } from '../../src/engine/request.js';
import { isDdmError } from '../../src/errors.js';

test('mirrors default to none and are checked URLs without repeats', () => {
  assert.deepEqual(parseDownloadRequest({ url: 'http://a.example/f' }).options.mirrors, []);
  const request = parseDownloadRequest({
    url: 'http://a.example/f',
    mirrors: ['http://b.example/f', 'http://a.example/f', 'https://c.example/f', 'http://b.example/f'],
  });
  assert.deepEqual(request.options.mirrors, ['http://b.example/f', 'https://c.example/f']);
  assert.deepEqual(request.raw.mirrors, [
    'http://b.example/f',
    'http://a.example/f',
    'https://c.example/f',
    'http://b.example/f',
  ]);
});

test('a mirror that is not an http(s) URL is refused, naming the key', () => {
  for (const bad of ['ftp://b.example/f', 'not a url', '']) {
    assert.throws(
      () => parseDownloadRequest({ url: 'http://a.example/f', mirrors: [bad] }),
      (error: unknown) =>
        isDdmError(error) && error.code === 'URL_INVALID' && error.details.key === 'mirrors',
    );
  }
  assert.throws(
    () => parseDownloadRequest({ url: 'http://a.example/f', mirrors: 'http://b.example/f' }),
    (error: unknown) => isDdmError(error) && error.details.key === 'mirrors',
  );
});
