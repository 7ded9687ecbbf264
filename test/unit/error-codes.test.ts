/**
 * One table decides what an error code means (src/errors.ts for the exit code, src/error-policy.ts
 * for the rest). These checks hold the tables to each other, to the README's exit-code table and
 * to PROTOCOL.md's wire tables, and check through a real signed server that a node and a client
 * treat each code the way the policy says. A code added in one place and forgotten in another
 * fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import * as v from 'valibot';
import { ERROR_POLICY, isWireCode } from '../../src/error-policy.js';
import { CODES, DdmError, type ErrorCode, EXIT, isDdmError } from '../../src/errors.js';
import { deriveKey } from '../../src/protocol/auth.js';
import { signedJson } from '../../src/transport/client/signed-http.js';
import {
  type Route,
  type SignedServer,
  startSignedServer,
} from '../../src/transport/server/signed-server.js';

const ALL_CODES = Object.keys(CODES) as ErrorCode[];
const UPSTREAM = 502;

/** The rows of a Markdown table that follows `heading`, as arrays of trimmed cells. */
function tableAfter(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(heading);
  assert.notEqual(start, -1, `no "${heading}" in the document`);
  const lines = markdown.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith('|')) break;
    if (/^\|[-| :]+\|$/.test(line)) continue;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  return rows.slice(1);
}

function codesIn(text: string): string[] {
  return [...text.matchAll(/`([A-Z][A-Z_]+)`/g)].map((match) => match[1] ?? '');
}

describe('the error code tables agree with each other', () => {
  test('every code has an exit code and exactly one policy row, and no policy row is orphaned', () => {
    assert.deepEqual(Object.keys(ERROR_POLICY).sort(), [...ALL_CODES].sort());
    const exits = new Set<number>(Object.values(EXIT));
    for (const code of ALL_CODES) assert.ok(exits.has(CODES[code]), `${code} has exit ${CODES[code]}`);
  });

  test('a code a node answers with its own status is one the client keeps', () => {
    for (const code of ALL_CODES) {
      const policy = ERROR_POLICY[code];
      if (policy.wireStatus !== UPSTREAM) assert.ok(policy.keptFromWire, `${code}: ${policy.wireStatus}`);
      assert.ok(policy.wireStatus >= 400 && policy.wireStatus <= 599, `${code}: ${policy.wireStatus}`);
    }
  });

  test('retryable-by-default codes are kept from the wire and never drop a peer at once', () => {
    for (const code of ALL_CODES) {
      const policy = ERROR_POLICY[code];
      if (policy.retryableFromWire) {
        assert.ok(policy.keptFromWire, `${code} is retryable but read as PROTOCOL`);
        assert.notEqual(policy.peerFailure, 'drop', code);
      }
      if (policy.peerFailure === 'wait')
        assert.ok(policy.retryableFromWire, `${code} waits but is not retryable`);
    }
  });

  test('what stops a download is local, what stops the swarm setup is a swarm matter', () => {
    for (const code of ALL_CODES) {
      const policy = ERROR_POLICY[code];
      if (policy.peerFailure === 'stop') assert.equal(CODES[code], EXIT.FILESYSTEM, code);
      if (policy.stopsSwarmSetup) assert.equal(CODES[code], EXIT.SWARM, code);
    }
  });
});

describe("the README's exit-code table", () => {
  const rows = tableAfter(readFileSync('README.md', 'utf8'), '## Exit codes and errors');

  test('lists every code once, with the exit code the code gives it', () => {
    const listed = new Map<string, number>();
    for (const [exit = '', , codes = ''] of rows) {
      for (const code of codesIn(codes)) {
        assert.ok(!listed.has(code), `${code} is listed twice`);
        listed.set(code, Number(exit));
      }
    }
    const missing = ALL_CODES.filter((code) => !listed.has(code));
    const unknown = [...listed.keys()].filter((code) => !(code in CODES));
    assert.deepEqual({ missing, unknown }, { missing: [], unknown: [] });
    for (const code of ALL_CODES) assert.equal(listed.get(code), CODES[code], `exit code of ${code}`);
  });

  test('has a row for every exit code', () => {
    const exits = rows.map(([exit = '']) => Number(exit)).sort((a, b) => a - b);
    assert.deepEqual(
      exits,
      Object.values(EXIT).sort((a, b) => a - b),
    );
  });
});

describe("PROTOCOL.md's wire tables", () => {
  const protocol = readFileSync('docs/PROTOCOL.md', 'utf8');

  test('§5.2 gives every code the status a node answers with', () => {
    const rows = tableAfter(protocol, '### 5.2 Wire codes');
    assert.ok(rows.length >= 10, `only ${rows.length} rows`);
    for (const [codeCell = '', statusCell = ''] of rows) {
      const code = codesIn(codeCell)[0] ?? '';
      if (code === 'INTERNAL') continue;
      assert.ok(code in CODES, `${code} in §5.2 is not a code`);
      const policy = ERROR_POLICY[code as ErrorCode];
      if (!policy.keptFromWire) {
        assert.match(statusCell, /never on the wire/, `${code} is not kept from the wire`);
        continue;
      }
      const statuses = [...statusCell.matchAll(/\d{3}/g)].map((match) => Number(match[0]));
      assert.ok(
        statuses.includes(policy.wireStatus),
        `${code}: §5.2 says ${statusCell}, code ${policy.wireStatus}`,
      );
    }
  });

  test('§5.3 lists the codes a client keeps and those it retries by default', () => {
    const rows = tableAfter(protocol, '### 5.3 How a client reads a signed error');
    const cell = (step: string) => rows.find(([name]) => name === step)?.[1] ?? '';
    const kept = codesIn(cell('Code').split(';')[0] ?? '').sort();
    const retried = codesIn(cell('Retryable').split('else true for')[1]?.split(', and for')[0] ?? '').sort();
    const keptByPolicy = ALL_CODES.filter((code) => ERROR_POLICY[code].keptFromWire).sort();
    const retriedByPolicy = ALL_CODES.filter((code) => ERROR_POLICY[code].retryableFromWire).sort();
    assert.deepEqual(kept, keptByPolicy);
    assert.deepEqual(retried, retriedByPolicy);
  });
});

describe('a real node and client treat each code as the policy says', () => {
  const key = deriveKey('error codes test secret');
  const lifetime = new AbortController();
  let server: SignedServer;

  before(async () => {
    const routes: Record<string, Route> = {};
    for (const code of ALL_CODES) {
      routes[`GET /raise/${code}`] = () => {
        throw new DdmError(code, `raised ${code}`);
      };
      // An answer that does not say whether to retry: the client's default decides.
      routes[`GET /bare/${code}`] = (ctx) =>
        ctx.reply(ERROR_POLICY[code].wireStatus, { error: { code, message: `bare ${code}` } });
    }
    server = await startSignedServer({ host: '127.0.0.1', port: 0, key, routes }, lifetime.signal);
  });

  after(async () => {
    lifetime.abort();
    await server.close();
  });

  async function failureOf(path: string): Promise<DdmError> {
    const signal = AbortSignal.timeout(20_000);
    try {
      await signedJson({
        baseUrl: server.url,
        method: 'GET',
        path,
        key,
        schema: v.unknown(),
        signal,
        role: 'peer',
      });
    } catch (error) {
      if (isDdmError(error)) return error;
      throw error;
    }
    assert.fail(`${path} succeeded`);
  }

  test('a raised code is answered with its wire status and read back as kept or PROTOCOL', async () => {
    for (const code of ALL_CODES) {
      const error = await failureOf(`/raise/${code}`);
      const policy = ERROR_POLICY[code];
      assert.equal(error.details.nodeStatus, policy.wireStatus, `status of ${code}`);
      assert.equal(error.code, policy.keptFromWire ? code : 'PROTOCOL', `code read back for ${code}`);
      assert.equal(isWireCode(code), policy.keptFromWire, code);
    }
    assert.equal(isWireCode('INTERNAL'), false);
  });

  test('without details.retryable, the client retries exactly the codes the policy says', async () => {
    for (const code of ALL_CODES) {
      const error = await failureOf(`/bare/${code}`);
      const expected = ERROR_POLICY[code].keptFromWire && ERROR_POLICY[code].retryableFromWire;
      assert.equal(error.retryable, expected, `retryable for ${code}`);
    }
  });
});
