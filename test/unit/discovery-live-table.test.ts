/**
 * The engine's live view of the LAN, without sockets: services heard stay while they keep
 * answering, leave on a goodbye or after the expiry, and the set never grows past its bound.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Packet } from 'dns-packet';
import { LiveServiceTable } from '../../src/discovery/live-browser.js';
import { allRecords, serviceRecords } from '../../src/discovery/service-records.js';

const EXPIRY_MS = 1_000;

function response(id: string, ttl = 120, port = 7801): Packet {
  const records = serviceRecords(
    { id, name: id, slots: 4, protocol: 1, port, addresses: ['192.0.2.7'] },
    ttl,
  );
  return { type: 'response', answers: allRecords(records) } as Packet;
}

function ports(table: LiveServiceTable, now: number): number[] {
  return table.services(now).map((service) => service.port);
}

describe('live LAN table', () => {
  test('a service heard stays while it answers and is forgotten once not heard for the expiry', () => {
    const table = new LiveServiceTable(EXPIRY_MS, 16);
    table.add(response('peer-live-0001'), '192.0.2.7', 0);
    assert.deepEqual(ports(table, 500), [7801]);
    table.add(response('peer-live-0001'), '192.0.2.7', 900);
    assert.deepEqual(ports(table, 1_800), [7801], 'heard again: the expiry starts over');
    assert.deepEqual(ports(table, 1_900), [], 'not heard for the whole expiry: gone');
  });

  test('a goodbye withdraws the service at once', () => {
    const table = new LiveServiceTable(EXPIRY_MS, 16);
    table.add(response('peer-live-0002'), '192.0.2.7', 0);
    table.add(response('peer-live-0002', 0), '192.0.2.7', 10);
    assert.deepEqual(ports(table, 20), []);
  });

  test('a service that changed its port is seen changed', () => {
    const table = new LiveServiceTable(EXPIRY_MS, 16);
    table.add(response('peer-live-0003', 120, 7801), '192.0.2.7', 0);
    table.add(response('peer-live-0003', 120, 7900), '192.0.2.7', 10);
    assert.deepEqual(ports(table, 20), [7900]);
  });

  test('the set is bounded: the least recently heard make room', () => {
    const table = new LiveServiceTable(EXPIRY_MS, 3);
    for (let index = 0; index < 10; index += 1) {
      table.add(
        response(`peer-live-1${String(index).padStart(3, '0')}`, 120, 8000 + index),
        '192.0.2.7',
        index,
      );
    }
    assert.equal(table.size, 3);
    assert.deepEqual(ports(table, 20), [8007, 8008, 8009]);
  });
});
