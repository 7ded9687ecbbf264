/**
 * Anyone on the LAN can send mDNS packets to a browsing client or a peer. Packets are decoded the
 * way multicast-dns decodes them (dns-packet; a packet it cannot decode is dropped as a warning),
 * then go through the very code a browse and an announcer run: whatever arrives, nothing throws,
 * what is kept stays bounded, and only readable announcements on our own links survive.
 */
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, test } from 'node:test';
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { MAX_ADDRESSES_PER_HOST, MAX_DISCOVERED_SERVICES, MDNS_SERVICE_TYPE } from '../../src/constants.js';
import { announcementsFrom } from '../../src/discovery/browser.js';
import { type InterfaceTable, isOnLink, lanLinks } from '../../src/discovery/lan-interfaces.js';
import { ServiceCollector } from '../../src/discovery/service-collector.js';
import { replyTo, serviceRecords } from '../../src/discovery/service-records.js';
import { encodeServiceTxt } from '../../src/discovery/service-txt.js';

const RUNS = 10_000;

function info(address: string, cidr: string): NetworkInterfaceInfo {
  const family = address.includes(':') ? 'IPv6' : 'IPv4';
  return {
    address,
    cidr,
    family,
    internal: false,
    mac: '00:00:00:00:00:01',
    netmask: '',
    scopeid: 0,
  } as NetworkInterfaceInfo;
}

const table: InterfaceTable = {
  eth0: [info('192.168.1.20', '192.168.1.20/24'), info('fd00::20', 'fd00::20/64')],
};
const links = lanLinks(table);
const records = serviceRecords(
  { id: 'AbCdEfGh12345678', name: 'me', slots: 2, protocol: 1, port: 7801, addresses: ['192.168.1.20'] },
  120,
);

const instance = fc.constantFrom('ddm-a._ddm._tcp.local', 'ddm-b._ddm._tcp.local', 'DDM-A._ddm._tcp.local');
const host = fc.constantFrom('ddm-a.local', 'ddm-b.local', 'x.local');
const anyName = fc.oneof(
  instance,
  host,
  fc.constant(MDNS_SERVICE_TYPE),
  fc.domain(),
  fc.string({ maxLength: 40 }),
);
const ttl = fc.oneof(fc.constant(0), fc.constant(120), fc.nat(0x7fffffff));
const address4 = fc.oneof(fc.ipV4(), fc.constantFrom('192.168.1.7', '10.0.0.1', '127.0.0.1'));
const address6 = fc.oneof(fc.ipV6(), fc.constantFrom('fd00::7', 'fe80::1', '::1'));
const txtStrings = fc.oneof(
  fc.array(fc.string({ maxLength: 40 }), { maxLength: 8 }),
  fc
    .record({
      id: fc.oneof(fc.constant('PeerPeer0001'), fc.string({ maxLength: 70 })),
      name: fc.oneof(fc.constant('p1'), fc.string({ maxLength: 70 })),
      slots: fc.integer({ min: -5, max: 100 }),
      protocol: fc.integer({ min: -1, max: 3 }),
    })
    .map((txt) => encodeServiceTxt(txt).map((entry) => entry.toString('utf8'))),
);

const answer: fc.Arbitrary<dnsPacket.Answer> = fc.oneof(
  fc.record({ type: fc.constant('PTR' as const), name: anyName, ttl, data: anyName }),
  fc.record({
    type: fc.constant('SRV' as const),
    name: anyName,
    ttl,
    data: fc.record({ port: fc.integer({ min: 0, max: 65_535 }), target: anyName }),
  }),
  fc.record({ type: fc.constant('TXT' as const), name: anyName, ttl, data: txtStrings }),
  fc.record({ type: fc.constant('A' as const), name: anyName, ttl, data: address4 }),
  fc.record({ type: fc.constant('AAAA' as const), name: anyName, ttl, data: address6 }),
  fc.record({ type: fc.constant('CNAME' as const), name: anyName, ttl, data: anyName }),
) as fc.Arbitrary<dnsPacket.Answer>;

const question = fc.record({
  name: anyName,
  type: fc.constantFrom('PTR', 'SRV', 'TXT', 'A', 'AAAA', 'ANY', 'CNAME') as fc.Arbitrary<'PTR'>,
});

/** A whole announcement, as a peer sends it, with random content in its fields. */
const announcement: fc.Arbitrary<dnsPacket.Answer[]> = fc
  .tuple(instance, host, txtStrings, fc.array(fc.oneof(address4, address6), { maxLength: 12 }), ttl)
  .map(([name, target, txt, addresses, recordTtl]) => [
    { type: 'PTR', name: MDNS_SERVICE_TYPE, ttl: recordTtl, data: name },
    { type: 'SRV', name, ttl: recordTtl, data: { port: 7801, target } },
    { type: 'TXT', name, ttl: recordTtl, data: txt },
    ...addresses.map(
      (data): dnsPacket.Answer => ({ type: data.includes(':') ? 'AAAA' : 'A', name: target, ttl: 120, data }),
    ),
  ]);

const packetBytes: fc.Arbitrary<Buffer> = fc.oneof(
  announcement.map((answers) => dnsPacket.encode({ type: 'response', flags: 0x8400, answers })),
  // Well-formed packets of any content, some damaged at a random byte or cut short.
  fc
    .record({
      answers: fc.array(answer, { maxLength: 12 }),
      additionals: fc.array(answer, { maxLength: 4 }),
      questions: fc.array(question, { maxLength: 4 }),
      damage: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean())),
    })
    .map(({ damage, ...packet }) => {
      let bytes: Buffer = dnsPacket.encode({ type: 'response', flags: 0x8400, ...packet });
      if (damage) {
        const [at, value, cut] = damage;
        bytes = Buffer.from(bytes);
        if (cut) bytes = bytes.subarray(0, at % (bytes.length + 1));
        else bytes[at % bytes.length] = value;
      }
      return bytes;
    }),
  // Garbage.
  fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)),
);

/** As multicast-dns does: a packet that does not decode is dropped. */
function decoded(bytes: Buffer): dnsPacket.DecodedPacket | undefined {
  try {
    return dnsPacket.decode(bytes);
  } catch {
    return undefined;
  }
}

describe('mDNS packets from strangers', () => {
  test(`${RUNS} browses over random packets: bounded, readable, on our links`, () => {
    const seen = { packets: 0, services: 0, announcements: 0 };
    const source = fc.oneof(fc.constant('192.168.1.9'), fc.ipV4(), fc.ipV6());
    fc.assert(
      fc.property(fc.array(packetBytes, { minLength: 1, maxLength: 6 }), source, (packets, from) => {
        const collector = new ServiceCollector(8);
        for (const bytes of packets) {
          const packet = decoded(bytes);
          if (packet === undefined) continue;
          seen.packets += 1;
          collector.add(packet, from);
        }
        const services = collector.services();
        seen.services += services.length;
        assert.ok(services.length <= 8, `${services.length} services kept`);
        for (const service of services) {
          assert.ok(
            service.addresses.length <= MAX_ADDRESSES_PER_HOST + 1,
            `${service.addresses.length} addresses`,
          );
        }
        const problems: string[] = [];
        for (const found of announcementsFrom(services, links, (message) => problems.push(message))) {
          seen.announcements += 1;
          assert.ok(found.addresses.length > 0, 'an announcement without addresses');
          for (const address of found.addresses) assert.ok(isOnLink(address, links), address);
          assert.match(found.id, /^[A-Za-z0-9_-]{8,64}$/);
          assert.ok(Number.isInteger(found.slots) && found.slots >= 1, `slots ${found.slots}`);
        }
        for (const problem of problems) assert.match(problem, /^ignored the announcement /);
      }),
      { numRuns: RUNS },
    );
    // The generator must reach the deep paths, not only the decoder's refusals.
    assert.ok(seen.packets > RUNS / 2, `only ${seen.packets} packets decoded`);
    assert.ok(seen.services > 0 && seen.announcements > 0, JSON.stringify(seen));
  });

  test(`${RUNS} queries to a peer: an answer about itself only, never a throw`, () => {
    const own = new Set<dnsPacket.Answer>([
      records.pointer,
      records.typePointer,
      records.service,
      records.text,
      ...records.addresses,
    ]);
    fc.assert(
      fc.property(packetBytes, (bytes) => {
        const packet = decoded(bytes);
        if (packet === undefined) return;
        const reply = replyTo(packet.questions ?? [], records);
        for (const record of [...reply.answers, ...reply.additionals])
          assert.ok(own.has(record), record.name);
      }),
      { numRuns: RUNS },
    );
  });

  test('a flood of services keeps at most MAX_DISCOVERED_SERVICES', () => {
    const collector = new ServiceCollector();
    for (let index = 0; index < MAX_DISCOVERED_SERVICES * 3; index += 1) {
      const name = `ddm-${index}._ddm._tcp.local`;
      collector.add(
        {
          answers: [
            { type: 'PTR', name: MDNS_SERVICE_TYPE, ttl: 120, data: name },
            { type: 'SRV', name, ttl: 120, data: { port: 7801, target: `h${index}.local` } },
            { type: 'TXT', name, ttl: 120, data: ['txtvers=1'] },
          ],
        },
        '192.168.1.7',
      );
    }
    assert.equal(collector.services().length, MAX_DISCOVERED_SERVICES);
  });
});
