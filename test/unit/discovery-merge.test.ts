import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeSightings } from '../../src/discovery/peer-merge.js';

test('sightings of one id are one peer: the first gives the value, every way it was found is kept', () => {
  const merged = mergeSightings([
    { id: 'a', via: 'peer', value: 'http://10.0.0.2:7801' },
    { id: 'b', via: 'mdns', value: 'http://10.0.0.3:7801' },
    { id: 'a', via: 'mdns', value: 'http://10.0.0.9:7801' },
    { id: 'a', via: 'http://t1:7800', value: 'http://10.0.0.8:7801' },
    { id: 'b', via: 'http://t1:7800', value: 'http://10.0.0.7:7801' },
    { id: 'b', via: 'http://t2:7800', value: 'http://10.0.0.7:7801' },
    { id: 'a', via: 'mdns', value: 'http://10.0.0.9:7801' },
  ]);
  assert.deepEqual(merged, [
    { id: 'a', value: 'http://10.0.0.2:7801', foundBy: ['peer', 'mdns', 'http://t1:7800'] },
    { id: 'b', value: 'http://10.0.0.3:7801', foundBy: ['mdns', 'http://t1:7800', 'http://t2:7800'] },
  ]);
});

test('no sightings, no peers', () => {
  assert.deepEqual(mergeSightings([]), []);
});
