/**
 * Measures how often PeerVerifier's spot checks catch corrupted peer bytes, against the formula
 * in docs/SECURITY.md. Run: node --import tsx bench/detection.ts
 */
import { PeerVerifier } from '../src/client/peer-verifier.js';

const KiB = 1024,
  MiB = 1024 * KiB;
async function rate(length: number, corrupt: number, r: number, slice: number, trials: number) {
  const origin = Buffer.alloc(length, 7);
  let caught = 0;
  for (let t = 0; t < trials; t++) {
    const local = Buffer.from(origin);
    const at = Math.floor(Math.random() * (length - corrupt + 1));
    local.fill(8, at, at + corrupt);
    let hit = false;
    const v = new PeerVerifier(
      {
        readLocal: async (p, l) => local.subarray(p, p + l),
        readOrigin: async (x) => origin.subarray(x.start, x.end),
        onMismatch: () => {
          hit = true;
        },
        sampleRate: r,
        sliceBytes: slice,
      },
      new AbortController().signal,
    );
    v.record('p', 0, length);
    await v.idle();
    if (hit) caught++;
  }
  return caught / trials;
}
function predicted(length: number, c: number, r: number, s: number) {
  const k = Math.max(1, Math.round((length * r) / s));
  const p = Math.min(1, (c + s - 1) / (length - s + 1));
  return 1 - (1 - p) ** k;
}
console.log('| corruption per 1 MiB batch | sampling rate | predicted | measured (4000 trials) |');
console.log('|---|---:|---:|---:|');
for (const [c, label] of [
  [1, '1 byte'],
  [4 * KiB, '4 KiB'],
  [64 * KiB, '64 KiB'],
  [MiB, 'whole batch'],
] as const) {
  for (const r of [0.01, 0.05, 0.1]) {
    const m = await rate(MiB, c, r, 16 * KiB, 4000);
    console.log(
      `| ${label} | ${(r * 100).toFixed(0)}% | ${(predicted(MiB, c, r, 16 * KiB) * 100).toFixed(1)}% | ${(m * 100).toFixed(1)}% |`,
    );
  }
}
