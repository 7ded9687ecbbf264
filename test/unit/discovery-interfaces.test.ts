import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, test } from 'node:test';
import {
  type InterfaceTable,
  isFromLink,
  isOnLink,
  lanLinks,
  reachableAddresses,
  sortByFamily,
  whyNotAnnounceable,
} from '../../src/discovery/lan-interfaces.js';

function info(address: string, cidr: string, internal = false): NetworkInterfaceInfo {
  const ipv6 = address.includes(':');
  return {
    address,
    cidr,
    internal,
    netmask: '',
    mac: '02:00:00:00:00:01',
    ...(ipv6 ? { family: 'IPv6', scopeid: address.startsWith('fe80') ? 2 : 0 } : { family: 'IPv4' }),
  } as NetworkInterfaceInfo;
}

const table: InterfaceTable = {
  lo: [info('127.0.0.1', '127.0.0.1/8', true), info('::1', '::1/128', true)],
  eth0: [
    info('192.168.1.20', '192.168.1.20/24'),
    info('fd00::20', 'fd00::20/64'),
    info('fe80::1', 'fe80::1/64'),
  ],
  wlan0: [info('10.0.0.5', '10.0.0.5/24')],
  v6only: [info('fe80::2', 'fe80::2/64')],
};

describe('links', () => {
  test('one link per interface and family, loopback left out', () => {
    assert.deepEqual(
      lanLinks(table).map((link) => [link.interfaceName, link.family, link.multicastInterface]),
      [
        ['eth0', 'IPv4', '192.168.1.20'],
        ['eth0', 'IPv6', '::%eth0'],
        ['wlan0', 'IPv4', '10.0.0.5'],
        ['v6only', 'IPv6', '::%v6only'],
      ],
    );
  });

  test('a packet belongs to the link of its subnet, or of its IPv6 zone', () => {
    const links = lanLinks(table);
    const eth0 = links[0]!;
    const wlan0 = links[2]!;
    assert.equal(isFromLink(eth0, '192.168.1.7', links), true);
    assert.equal(isFromLink(wlan0, '192.168.1.7', links), false);
    assert.equal(isFromLink(eth0, 'fe80::9%eth0', links), true);
    assert.equal(isFromLink(wlan0, 'fe80::9%eth0', links), false);
    assert.equal(isFromLink(wlan0, '172.16.0.1', links), true, 'a stranger to every subnet is answered');
  });

  test('discovered addresses are used only on our own subnets, never link-local IPv6', () => {
    const links = lanLinks(table);
    assert.equal(isOnLink('192.168.1.30', links), true);
    assert.equal(isOnLink('fd00::30', links), true);
    assert.equal(isOnLink('8.8.8.8', links), false);
    assert.equal(isOnLink('127.0.0.1', links), false);
    assert.equal(isOnLink('fe80::30', links), false);
    assert.equal(isOnLink('not an address', links), false);
  });
});

describe('announced addresses follow the listen address', () => {
  const eth0 = table.eth0!;
  test('0.0.0.0: the IPv4 addresses', () => {
    assert.deepEqual(reachableAddresses(eth0, '0.0.0.0'), ['192.168.1.20']);
  });
  test(':: (dual stack): IPv4 and IPv6, link-local left out', () => {
    assert.deepEqual(reachableAddresses(eth0, '::'), ['192.168.1.20', 'fd00::20']);
  });
  test('one address: only that one, only on its interface', () => {
    assert.deepEqual(reachableAddresses(eth0, 'fd00:0::20'), ['fd00::20']);
    assert.deepEqual(reachableAddresses(table.wlan0!, '192.168.1.20'), []);
  });
  test('loopback: nothing to announce', () => {
    assert.deepEqual(reachableAddresses(table.lo!, '127.0.0.1'), []);
    assert.deepEqual(reachableAddresses(eth0, '127.0.0.1'), []);
  });
  test('a host name or a loopback address cannot be announced at all', () => {
    assert.match(whyNotAnnounceable('my-host.lan') ?? '', /name my-host.lan/);
    assert.match(whyNotAnnounceable('127.0.0.1') ?? '', /loopback/);
    assert.match(whyNotAnnounceable('::1') ?? '', /loopback/);
    assert.equal(whyNotAnnounceable('0.0.0.0'), undefined);
    assert.equal(whyNotAnnounceable('::'), undefined);
    assert.equal(whyNotAnnounceable('192.168.1.20'), undefined);
  });
});

test('IPv4 addresses are tried first', () => {
  assert.deepEqual(sortByFamily(['fd00::1', '10.0.0.1', 'fd00::2', '10.0.0.2']), [
    '10.0.0.1',
    '10.0.0.2',
    'fd00::1',
    'fd00::2',
  ]);
});
