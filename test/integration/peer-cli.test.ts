/** `ddm peer` as an operator starts it: what it refuses to do and what it says. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startCli } from '../helpers/cli.js';
import { TEST_SECRET } from '../helpers/swarm.js';
import { within } from '../helpers/wait.js';

describe('ddm peer on the command line', () => {
  test('--accept ask without a terminal refuses to start with one USAGE line, exit 2', async () => {
    // stdin is not a terminal here (startCli gives the child none): nobody could answer.
    const peer = startCli(['peer', '--accept', 'ask', '--listen', '127.0.0.1:0', '--no-announce'], {
      DDM_SECRET: TEST_SECRET,
    });
    try {
      const result = await within(peer.exited, 30_000, 'ddm peer --accept ask to exit');
      assert.equal(result.code, 2, result.stderr);
      assert.equal(
        result.stderr,
        'ddm: error [USAGE]: --accept ask needs a terminal to ask on, and stdin is not one: ' +
          'start the peer in a terminal, or use --accept auto or --accept never\n',
      );
    } finally {
      peer.child.kill('SIGKILL');
    }
  });
});
