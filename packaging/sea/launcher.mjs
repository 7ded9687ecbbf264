// The single executable's entry: bin/ddm.js loads dist/ dynamically (so a checkout that was never
// built can say so), which a bundle cannot follow; here the CLI is imported statically instead.
import { main } from '../../dist/cli/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`ddm: internal error: ${error?.stack ?? error}\n`);
    process.exitCode = 70;
  },
);
