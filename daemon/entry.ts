// Entry point of the netloomd bundle.
import { setFlagsFromString } from 'node:v8';
import { DAEMON_V8_FLAGS } from '../common/config.js';

// V8 tuned for a long-running daemon's footprint (bench/daemon-rss.sh measures it): slower heap
// growth, and a young generation that stays at its initial size (it otherwise grows to 8-15 MiB
// under a DNS load or a burst of requests and is not given back). Set before the daemon's modules
// are loaded, so their start-up garbage is collected under it too. These two are read by V8 at run
// time; --max-semi-space-size is not (it is fixed when the heap is made, before any JavaScript).
// NETLOOMD_V8_FLAGS replaces them ("" for V8's defaults).
setFlagsFromString(process.env.NETLOOMD_V8_FLAGS ?? DAEMON_V8_FLAGS);
const { runDaemon } = await import('./main.js');

runDaemon(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`netloomd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
