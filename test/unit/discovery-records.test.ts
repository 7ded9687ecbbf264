import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Answer, Packet } from 'dns-packet';
import { MDNS_SERVICE_TYPE, MDNS_SERVICE_TYPES_ENUMERATION } from '../../src/constants.js';
import { ServiceCollector } from '../../src/discovery/service-collector.js';
import {
  allRecords,
  hostName,
  instanceName,
  replyTo,
  type ServiceAnnouncement,
  serviceRecords,
} from '../../src/discovery/service-records.js';
import { parseServiceTxt } from '../../src/discovery/service-txt.js';

const announcement: ServiceAnnouncement = {
  id: 'AbCdEfGh12345678',
  name: 'alpha',
  slots: 3,
  protocol: 1,
  port: 7801,
  addresses: ['10.0.0.2', 'fd00::2'],
};
const records = serviceRecords(announcement, 120);
const source = '10.0.0.2';

function goodbye(answers: Answer[]): Answer[] {
  return answers.map((answer) => ({ ...answer, ttl: 0 }) as Answer);
}

describe('announcement records', () => {
  test('PTR, SRV, TXT and one address record per address, under names made of the id', () => {
    const all = allRecords(records);
    assert.deepEqual(
      all.map((record) => [record.type, record.name]),
      [
        ['PTR', MDNS_SERVICE_TYPE],
        ['SRV', instanceName(announcement.id)],
        ['TXT', instanceName(announcement.id)],
        ['A', hostName(announcement.id)],
        ['AAAA', hostName(announcement.id)],
      ],
    );
    assert.equal(records.pointer.type === 'PTR' && records.pointer.data, instanceName(announcement.id));
  });

  test('a query for the service type gets the PTR, with SRV, TXT and addresses as additionals', () => {
    const reply = replyTo([{ name: '_DDM._tcp.local', type: 'PTR' }], records);
    assert.deepEqual(reply.answers, [records.pointer]);
    assert.deepEqual(reply.additionals, [records.service, records.text, ...records.addresses]);
  });

  test('questions about the instance, the host or the service types are answered; others are not', () => {
    assert.deepEqual(replyTo([{ name: instanceName(announcement.id), type: 'TXT' }], records).answers, [
      records.text,
    ]);
    assert.deepEqual(replyTo([{ name: hostName(announcement.id), type: 'AAAA' }], records).answers, [
      records.addresses[1],
    ]);
    assert.deepEqual(replyTo([{ name: MDNS_SERVICE_TYPES_ENUMERATION, type: 'PTR' }], records).answers, [
      records.typePointer,
    ]);
    assert.deepEqual(replyTo([{ name: '_http._tcp.local', type: 'PTR' }], records), {
      answers: [],
      additionals: [],
    });
  });
});

describe('collecting services from responses', () => {
  test('a whole announcement gives one service with its TXT, port and addresses', () => {
    const collector = new ServiceCollector();
    collector.add({ type: 'response', answers: allRecords(records) } as Packet, source);
    const [found, ...rest] = collector.services();
    assert.deepEqual(rest, []);
    assert.equal(found!.instance, instanceName(announcement.id).toLowerCase());
    assert.equal(found!.port, 7801);
    assert.deepEqual(found!.addresses, ['10.0.0.2', 'fd00::2']);
    const parsed = parseServiceTxt(found!.txt);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.txt, { id: announcement.id, name: 'alpha', slots: 3, protocol: 1 });
  });

  test('records split over several packets are put together; the sender is a fallback address', () => {
    const collector = new ServiceCollector();
    collector.add({ type: 'response', answers: [records.pointer] } as Packet, source);
    assert.deepEqual(collector.services(), [], 'no SRV and TXT yet');
    collector.add({ type: 'response', answers: [records.service, records.text] } as Packet, '10.0.0.99');
    assert.deepEqual(collector.services()[0]!.addresses, ['10.0.0.99']);
    collector.add({ type: 'response', answers: records.addresses } as Packet, source);
    assert.deepEqual(collector.services()[0]!.addresses, ['10.0.0.2', 'fd00::2', '10.0.0.99']);
  });

  test('a goodbye (TTL 0) withdraws the service', () => {
    const collector = new ServiceCollector();
    collector.add({ type: 'response', answers: allRecords(records) } as Packet, source);
    collector.add({ type: 'response', answers: goodbye([records.pointer]) } as Packet, source);
    assert.deepEqual(collector.services(), []);
  });

  test('other service types are ignored', () => {
    const collector = new ServiceCollector();
    const other = allRecords(records).map((record) =>
      record.type === 'PTR' ? { ...record, name: '_http._tcp.local' } : record,
    );
    collector.add({ type: 'response', answers: other } as Packet, source);
    assert.deepEqual(collector.services(), []);
  });

  test('a flood of announcements is capped', () => {
    const collector = new ServiceCollector(5);
    for (let i = 0; i < 50; i++) {
      const flood = serviceRecords({ ...announcement, id: `flood${String(i).padStart(8, '0')}` }, 120);
      collector.add({ type: 'response', answers: allRecords(flood) } as Packet, source);
    }
    assert.equal(collector.services().length, 5);
  });
});
