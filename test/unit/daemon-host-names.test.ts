import assert from 'node:assert/strict';
import { hostname, networkInterfaces } from 'node:os';
import { test } from 'node:test';
import { daemonHostNames } from '../../src/daemon/host-names.js';

function ipv4Addresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => entry.family === 'IPv4')
    .map((entry) => entry.address);
}

test('a daemon on loopback answers to loopback names with its port, and to nothing else', () => {
  const names = daemonHostNames('127.0.0.1', 6800);
  assert.deepEqual([...names].sort(), ['127.0.0.1:6800', '[::1]:6800', 'localhost:6800']);
});

test('a daemon on a named address answers to that address too', () => {
  assert.ok(daemonHostNames('192.168.1.20', 6800).has('192.168.1.20:6800'));
  assert.ok(daemonHostNames('fe80::1', 6800).has('[fe80::1]:6800'));
});

test('a daemon on every address answers to each address of this machine and its host name, so the LAN can open the UI', () => {
  const names = daemonHostNames('0.0.0.0', 6800);
  for (const address of ipv4Addresses()) assert.ok(names.has(`${address}:6800`), address);
  assert.ok(names.has(`${hostname().toLowerCase()}:6800`));
  assert.ok(!names.has('0.0.0.0:6800'));
  assert.ok(!names.has('attacker.example:6800'));
});
