// Entry point of the netloom bundle.
import { main } from './main.js';
import { UsageError } from '../common/errors.js';
import { ApiError } from './client.js';
import { restoreExtraCaCerts } from './launch.js';

restoreExtraCaCerts(process.env);

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`Error: ${msg}\n`);
    process.exitCode = err instanceof UsageError ? 2 : err instanceof ApiError ? 1 : 1;
  },
);
