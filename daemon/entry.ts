// Entry point of the netloomd bundle.
import { runDaemon } from './main.js';

runDaemon(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`netloomd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
