#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm ci` (the prepare script) or `npm run build`.
const entry = new URL('../dist/cli/main.js', import.meta.url);

import(entry.href).then(
  ({ main }) =>
    main(process.argv).then(
      (code) => {
        process.exitCode = code;
      },
      (error) => {
        process.stderr.write(`ddm: internal error: ${error?.stack ?? error}\n`);
        process.exitCode = 70;
      },
    ),
  (error) => {
    // A checkout that was never built: say what to run instead of a module-resolution trace.
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(entry.pathname)) {
      process.stderr.write('ddm: dist/ is not built: run `npm ci` (or `npm run build`) in this checkout\n');
    } else {
      process.stderr.write(`ddm: internal error: ${error?.stack ?? error}\n`);
    }
    process.exitCode = 70;
  },
);
