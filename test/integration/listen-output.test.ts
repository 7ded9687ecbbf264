/**
 * What `ddm tracker` and `ddm peer` say about where they listen: the address really bound (every
 * address is not 127.0.0.1), where the LAN reaches them, and a taken port named with a way out.
 */
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { describe, test } from 'node:test';
import { reachableAddresses } from '../../src/discovery/lan-interfaces.js';
import { runCli } from '../helpers/cli.js';
import { type Node, startPeer, startTracker, TEST_SECRET } from '../helpers/swarm.js';

function lanUrls(port: number): string[] {
  return Object.entries(networkInterfaces()).flatMap(([name, infos]) =>
    reachableAddresses(infos ?? [], '0.0.0.0').map((address) => `http://${address}:${port} (${name})`),
  );
}

describe('listen addresses on the terminal', () => {
  test('a tracker given --listen :PORT says it listens on 0.0.0.0 and lists where it is reached', async () => {
    let tracker: Node | undefined;
    try {
      tracker = await startTracker(['--listen', ':0']);
      const port = Number(new URL(tracker.url).port);
      assert.equal(tracker.url, `http://0.0.0.0:${port}`);
      const lines = tracker.cli.stderr().split('\n');
      assert.equal(lines[0], `ddm tracker: listening on http://0.0.0.0:${port} (every IPv4 address)`);
      await tracker.cli.waitFor(/reachable at .*\(this machine\)\n/);
      const reachable = tracker.cli.stderr().split('\n')[1];
      assert.equal(
        reachable,
        `ddm tracker: reachable at ${[...lanUrls(port), `http://127.0.0.1:${port} (this machine)`].join(', ')}`,
      );
      // The loopback URL it prints does answer.
      const listed = await runCli(['peers', '--tracker', `http://127.0.0.1:${port}`, '--no-discover'], {
        DDM_SECRET: TEST_SECRET,
      });
      assert.equal(listed.code, 0, listed.stderr);
    } finally {
      await tracker?.stop();
    }
  });

  test('a second peer on a taken port names the port and --listen, in one USAGE line, exit 2', async () => {
    let first: Node | undefined;
    try {
      first = await startPeer('first', ['--no-announce']);
      const port = Number(new URL(first.url).port);
      const second = await runCli(['peer', '--listen', `127.0.0.1:${port}`, '--no-announce'], {
        DDM_SECRET: TEST_SECRET,
      });
      assert.equal(second.code, 2);
      assert.equal(
        second.stderr,
        `ddm: error [USAGE]: port ${port} on 127.0.0.1 is taken (another ddm peer, or another program): ` +
          `choose another with --listen 127.0.0.1:${port + 1}\n`,
      );
    } finally {
      await first?.stop();
    }
  });
});
