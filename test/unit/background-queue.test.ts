import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BackgroundQueue } from '../../src/transport/server/background-queue.js';
import { within } from '../helpers/wait.js';

const WAIT_MS = 5_000;
/** Each job's work in the yielding test: longer than a timer's 1 ms, so one set in a job is due after it. */
const JOB_MS = 2;

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spinning: a job that takes the thread, as a heartbeat's signature checks do
  }
}

/** Resolves once the queue has nothing waiting (checked after each turn of the event loop). */
async function drained(queue: BackgroundQueue): Promise<void> {
  await within(
    (async () => {
      while (queue.waiting > 0) await new Promise((resolve) => setImmediate(resolve));
    })(),
    WAIT_MS,
    'the queue drains',
  );
}

describe('BackgroundQueue', () => {
  test('runs every job once, in the order pushed, and never while the pusher still runs', async () => {
    const ran: number[] = [];
    const queue = new BackgroundQueue(4, (error) => assert.fail(String(error)));
    for (let job = 0; job < 10; job += 1) queue.push(() => ran.push(job));
    assert.deepEqual(ran, [], 'nothing runs inside push');
    assert.equal(queue.waiting, 10);
    await drained(queue);
    assert.deepEqual(ran, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('lets the event loop poll between batches, so work that arrives meanwhile goes first', async () => {
    const order: string[] = [];
    const queue = new BackgroundQueue(2, (error) => assert.fail(String(error)));
    for (let job = 0; job < 6; job += 1) {
      queue.push(() => {
        order.push(`job ${job}`);
        // As a list request arriving during a batch: it is due before the batch ends.
        if (job === 0) setTimeout(() => order.push('urgent'), 0);
        busyFor(JOB_MS);
      });
    }
    await drained(queue);
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(
      order.indexOf('urgent'),
      2,
      `urgent work ran right after the first batch: ${order.join(', ')}`,
    );
    assert.deepEqual(
      order.filter((entry) => entry !== 'urgent'),
      ['job 0', 'job 1', 'job 2', 'job 3', 'job 4', 'job 5'],
    );
  });

  test('a job that throws is reported and the others still run', async () => {
    const errors: unknown[] = [];
    const ran: number[] = [];
    const queue = new BackgroundQueue(8, (error) => errors.push(error));
    queue.push(() => ran.push(1));
    queue.push(() => {
      throw new Error('broken job');
    });
    queue.push(() => ran.push(3));
    await drained(queue);
    assert.deepEqual(ran, [1, 3]);
    assert.equal((errors[0] as Error).message, 'broken job');
  });

  test('a queue fed while it drains keeps running and lets go of the jobs it ran', async () => {
    let ran = 0;
    const queue = new BackgroundQueue(16, (error) => assert.fail(String(error)));
    const total = 5_000;
    let pushed = 0;
    // Jobs keep arriving while earlier ones run, so the queue is never empty for long.
    const feed = () => {
      for (let burst = 0; burst < 100 && pushed < total; burst += 1, pushed += 1)
        queue.push(() => (ran += 1));
      if (pushed < total) setImmediate(feed);
    };
    feed();
    await within(
      (async () => {
        while (ran < total) await new Promise((resolve) => setImmediate(resolve));
      })(),
      WAIT_MS,
      'every job runs',
    );
    assert.equal(ran, total);
    assert.equal(queue.waiting, 0);
  });
});
