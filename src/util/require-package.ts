/**
 * CommonJS packages (undici, ipaddr.js, commander, pino, ws...) are loaded with `require`, not
 * `import`. Node reads a CommonJS file that an ES module imports with its export lexer first, to
 * name the exports, and at every start that lexer ran over enough source for V8 to optimise it:
 * ~100 ms of TurboFan (`--trace-opt`: `parseSource`, twice) and ~5 MiB of a short download's peak
 * RSS. `require` goes straight to the file. The single executable's bundle
 * (packaging/sea/bundle.ts) turns these calls back into plain `require` calls, which it follows.
 */
import { createRequire } from 'node:module';

const requireFromHere = createRequire(import.meta.url);

/** `require(id)`, typed as `T`: what `import x from id` would have given. */
export function requirePackage<T>(id: string): T {
  return requireFromHere(id) as T;
}
