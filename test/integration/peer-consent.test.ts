import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import {
  type ConsentAnswer,
  type ConsentPrompt,
  type ConsentQuestion,
  consentQuestionText,
  createTtyPrompt,
} from '../../src/peer/consent-prompt.js';
import { PeerClient } from '../../src/peer/peer-client.js';
import { type Peer, type PeerOptions, startPeer } from '../../src/peer/peer-server.js';
import { deriveKey } from '../../src/protocol/auth.js';
import type { OfferRequest } from '../../src/protocol/messages.js';
import { rejectsWith } from '../helpers/assertions.js';

const key = deriveKey('peer consent test secret');
const URL_A = 'https://downloads.example.org/big.iso';
const URL_B = 'https://downloads.example.org/other.iso';

const peers: Peer[] = [];
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

async function peer(overrides: Partial<PeerOptions>): Promise<Peer> {
  const started = await startPeer(
    {
      host: '127.0.0.1',
      port: 0,
      key,
      id: 'peer-consent-0001',
      name: 'helper',
      slots: 4,
      accept: 'ask',
      allowPrivate: false,
      trackers: [],
      ...overrides,
    },
    AbortSignal.timeout(60_000),
  );
  peers.push(started);
  return started;
}

function offer(url = URL_A, clientId = 'client-consent-01'): OfferRequest {
  return { clientId, clientName: 'laptop', url, fileName: 'big.iso', size: 3 * 1024 ** 3 };
}

function signal(): AbortSignal {
  return AbortSignal.timeout(10_000);
}

/** A prompt that answers from a script and records what it was asked. */
function scripted(
  ...answers: (ConsentAnswer | 'never-answer')[]
): ConsentPrompt & { asked: ConsentQuestion[] } {
  const asked: ConsentQuestion[] = [];
  const prompt = async (question: ConsentQuestion, promptSignal: AbortSignal): Promise<ConsentAnswer> => {
    asked.push(question);
    const answer = answers.shift() ?? 'no';
    if (answer !== 'never-answer') return answer;
    // Ignores its signal on purpose: the peer must not wait for a prompt that never returns.
    return new Promise<ConsentAnswer>((resolve) => {
      promptSignal.addEventListener('abort', () => setTimeout(() => resolve('yes'), 2_000).unref(), {
        once: true,
      });
    });
  };
  return Object.assign(prompt, { asked });
}

describe('peer consent', () => {
  test('auto accepts without asking and answers the slot count', async () => {
    const prompt = scripted();
    const p = await peer({ accept: 'auto', prompt, slots: 3 });
    assert.deepEqual(await new PeerClient(p.url, key).offer(offer(), signal()), { accepted: true, slots: 3 });
    assert.equal(prompt.asked.length, 0);
  });

  test('never refuses without asking', async () => {
    const prompt = scripted('yes');
    const p = await peer({ accept: 'never', prompt });
    const error = await rejectsWith(
      new PeerClient(p.url, key).offer(offer(), signal()),
      'PEER_REFUSED',
      /never/,
    );
    assert.equal(error.details.nodeStatus, 403);
    assert.equal(error.retryable, false);
    assert.equal(prompt.asked.length, 0);
  });

  test('ask: a yes stands for that client and URL, not for another URL', async () => {
    const prompt = scripted('yes', 'no');
    const p = await peer({ prompt });
    const client = new PeerClient(p.url, key);
    await client.offer(offer(), signal());
    const [{ expiresAt, ...question } = { expiresAt: undefined }] = prompt.asked;
    assert.ok(typeof expiresAt === 'number' && expiresAt > Date.now(), 'the question says when it expires');
    assert.deepEqual(
      [question],
      [
        {
          clientId: 'client-consent-01',
          clientName: 'laptop',
          address: '127.0.0.1',
          url: URL_A,
          host: 'downloads.example.org',
          fileName: 'big.iso',
          size: 3 * 1024 ** 3,
        },
      ],
    );
    await client.offer(offer(), signal());
    assert.equal(prompt.asked.length, 1, 'the standing yes is not asked again');
    await rejectsWith(client.offer(offer(URL_B), signal()), 'PEER_REFUSED', /said no/);
    assert.equal(prompt.asked.length, 2);
  });

  test('ask: a no refuses, and the next offer asks again', async () => {
    const prompt = scripted('no', 'yes');
    const p = await peer({ prompt });
    const client = new PeerClient(p.url, key);
    await rejectsWith(client.offer(offer(), signal()), 'PEER_REFUSED');
    await client.offer(offer(), signal());
    assert.equal(prompt.asked.length, 2);
  });

  test('ask: always covers every URL of that client, and only that client', async () => {
    const prompt = scripted('always', 'no');
    const p = await peer({ prompt });
    const client = new PeerClient(p.url, key);
    await client.offer(offer(URL_A), signal());
    await client.offer(offer(URL_B), signal());
    assert.equal(prompt.asked.length, 1);
    await rejectsWith(client.offer(offer(URL_A, 'client-consent-02'), signal()), 'PEER_REFUSED');
    assert.equal(prompt.asked.length, 2);
  });

  test('ask: no answer in time is a no, answered within the bound', async () => {
    const prompt = scripted('never-answer');
    const p = await peer({ prompt, consentTimeoutMs: 200 });
    const started = Date.now();
    await rejectsWith(
      new PeerClient(p.url, key).offer(offer(), signal()),
      'PEER_REFUSED',
      /did not answer in time/,
    );
    assert.ok(Date.now() - started < 2_000);
  });

  test('ask: one question at a time; a client waiting in line gets the standing answer', async () => {
    let active = 0;
    let most = 0;
    const asked: string[] = [];
    const prompt: ConsentPrompt = async (question) => {
      active += 1;
      most = Math.max(most, active);
      asked.push(question.clientId);
      await new Promise((resolve) => setTimeout(resolve, 50));
      active -= 1;
      return 'yes';
    };
    const p = await peer({ prompt });
    const client = new PeerClient(p.url, key);
    await Promise.all([
      client.offer(offer(URL_A, 'client-consent-01'), signal()),
      client.offer(offer(URL_A, 'client-consent-02'), signal()),
      client.offer(offer(URL_A, 'client-consent-01'), signal()),
    ]);
    assert.equal(most, 1);
    assert.deepEqual(asked.sort(), ['client-consent-01', 'client-consent-02']);
  });

  test('an offer for a destination the peer will not fetch is refused before asking', async () => {
    const prompt = scripted('yes');
    const p = await peer({ prompt });
    await rejectsWith(
      new PeerClient(p.url, key).offer(offer('http://192.168.1.1/router.bin'), signal()),
      'FORBIDDEN_DESTINATION',
      /--allow-private/,
    );
    assert.equal(prompt.asked.length, 0);
  });

  test('control characters in names cannot reach the operator terminal', async () => {
    const p = await peer({ accept: 'auto' });
    const client = new PeerClient(p.url, key);
    await rejectsWith(
      client.offer({ ...offer(), fileName: 'evil\u001b[2J.iso' }, signal()),
      'PROTOCOL',
      /fileName/,
    );
    await rejectsWith(
      client.offer({ ...offer(), clientName: 'bad\nname' }, signal()),
      'PROTOCOL',
      /clientName/,
    );
  });
});

describe('terminal prompt', () => {
  const question: ConsentQuestion = {
    clientId: 'client-consent-01',
    clientName: 'laptop',
    address: '192.168.1.20',
    url: URL_A,
    host: 'downloads.example.org',
    fileName: 'big.iso',
    size: 3 * 1024 ** 3,
  };

  test('says who asks for what', () => {
    assert.equal(
      consentQuestionText(question),
      'Client laptop (192.168.1.20) asks for help downloading big.iso (3.0 GiB) from downloads.example.org. ' +
        'Help? [y]es (this client and URL, for an hour) / [n]o / [a]lways (this client, until the peer stops) ',
    );
    assert.match(
      consentQuestionText({ ...question, size: null, fileName: '' }),
      /\(unnamed file\) \(unknown size\)/,
    );
  });

  test('the prompt says that yes stands for this client and URL for an hour, always until the peer stops', () => {
    const text = consentQuestionText(question);
    assert.match(text, /\[y\]es \(this client and URL, for an hour\)/);
    assert.match(text, /\[a\]lways \(this client, until the peer stops\)/);
  });

  test('without a terminal the answer is no, and nothing is read', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const prompt = createTtyPrompt({ input, output });
    assert.equal(await prompt(question, signal()), 'no');
    assert.equal(output.read(), null);
  });

  for (const [typed, expected] of [
    ['y', 'yes'],
    ['YES', 'yes'],
    ['a', 'always'],
    ['always', 'always'],
    ['n', 'no'],
    ['whatever', 'no'],
  ] as const) {
    test(`on a terminal, "${typed}" means ${expected}`, async () => {
      const input = Object.assign(new PassThrough(), { isTTY: true });
      const output = new PassThrough();
      const prompt = createTtyPrompt({ input, output });
      const answer = prompt(question, signal());
      input.write(`${typed}\n`);
      assert.equal(await answer, expected);
      assert.match(String(output.read()), /asks for help downloading big\.iso/);
    });
  }

  test('on a terminal, silence until the signal is a no', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    const output = new PassThrough();
    const prompt = createTtyPrompt({ input, output });
    assert.equal(await prompt(question, AbortSignal.timeout(100)), 'no');
  });
});
