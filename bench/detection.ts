/**
 * Measures how often PeerVerifier's spot checks catch corrupted peer bytes, against the formula
 * in docs/SECURITY.md, with the shipped slice size and a typical 8 MiB piece.
 * Run: node --import tsx bench/detection.ts
 */
import { PeerVerifier } from '../src/client/peer-verifier.js';
import { BYTES, VERIFY_SLICE_BYTES } from '../src/constants.js';

const PIECE_BYTES = 8 * BYTES.MiB;
const TRIALS = 2_000;

/** Share of `trials` pieces, each with `corrupt` bytes changed at a random place, that were caught. */
async function measured(corrupt: number, rate: number): Promise<number> {
  let caught = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const at = Math.floor(Math.random() * (PIECE_BYTES - corrupt + 1));
    let hit = false;
    const verifier = new PeerVerifier(
      {
        // The piece is zeros at the origin and ones where the peer lied: no 8 MiB buffers needed.
        readLocal: async (position, length) => {
          const bytes = Buffer.alloc(length);
          const from = Math.max(at, position);
          const to = Math.min(at + corrupt, position + length);
          if (from < to) bytes.fill(1, from - position, to - position);
          return bytes;
        },
        readOrigin: async (range) => Buffer.alloc(range.end - range.start),
        onMismatch: () => {
          hit = true;
        },
        sampleRate: rate,
      },
      new AbortController().signal,
    );
    verifier.check('peer', 0, PIECE_BYTES);
    await verifier.idle();
    if (hit) caught += 1;
  }
  return caught / TRIALS;
}

function predicted(corrupt: number, rate: number): number {
  const slice = VERIFY_SLICE_BYTES;
  const k = Math.max(1, Math.round((PIECE_BYTES * rate) / slice));
  const perSlice = Math.min(1, (corrupt + slice - 1) / (PIECE_BYTES - slice + 1));
  return 1 - (1 - perSlice) ** k;
}

const cases: [number, string][] = [
  [1, '1 byte'],
  [4 * BYTES.KiB, '4 KiB'],
  [256 * BYTES.KiB, '256 KiB'],
  [PIECE_BYTES, 'whole piece'],
];
console.log(`| corruption per 8 MiB piece | sampling rate | predicted | measured (${TRIALS} trials) |`);
console.log('|---|---:|---:|---:|');
for (const [corrupt, label] of cases) {
  for (const rate of [0.01, 0.05, 0.1]) {
    const share = await measured(corrupt, rate);
    console.log(
      `| ${label} | ${(rate * 100).toFixed(0)}% | ${(predicted(corrupt, rate) * 100).toFixed(1)}% | ${(share * 100).toFixed(1)}% |`,
    );
  }
}
