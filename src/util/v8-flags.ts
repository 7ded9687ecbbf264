/**
 * V8 settings every `ddm` process takes at start, for its peak memory. Both are read by V8 when
 * it next sizes the young generation or compiles a WebAssembly module, and neither has happened
 * yet when the command line is parsed, so they apply at run time: no re-exec, no second process.
 *
 * - WebAssembly tier-up: undici's HTTP parser (llhttp) is one large WebAssembly function, and
 *   TurboFan's compile of it takes ~30 MiB for a moment, soon after the first request: that was
 *   the peak of a short `ddm get` (113 MiB against 76-80 MiB with the higher budget, 1 MiB from
 *   nginx, `/usr/bin/time`). With the budget raised only code that runs long tiers up: XXH64 over
 *   gigabytes still does (0.14 -> 0.16 CPU s per GiB), the parser, which runs a few hundred bytes
 *   per response head, stays in V8's baseline compiler.
 * - The young generation is kept at its starting size: V8 grows it up to 2 x 16 MiB under a
 *   download's churn, which was ~15 MiB of a 1 GiB download's peak (94 -> 80 MiB), for no CPU
 *   this machine could measure (user CPU 0.83-1.07 s against 0.92-1.16).
 */
import { setFlagsFromString } from 'node:v8';
import { DDM_SEMI_SPACE_GROWTH_FACTOR, DDM_WASM_TIERING_BUDGET } from '../constants.js';

let applied = false;

/** Once per process, before any download, server or WebAssembly module; a no-op on a V8 that ignores the flags. */
export function applyProcessV8Flags(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString(`--wasm-tiering-budget=${DDM_WASM_TIERING_BUDGET}`);
  setFlagsFromString(`--semi-space-growth-factor=${DDM_SEMI_SPACE_GROWTH_FACTOR}`);
}
