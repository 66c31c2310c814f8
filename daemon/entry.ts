// Entry point of the netloomd bundle.
import { setFlagsFromString } from 'node:v8';

// V8 tuned for a long-running daemon's footprint (bench/daemon-rss.sh measures it): smaller
// young generation and slower heap growth. Set before the daemon's modules are loaded, so their
// start-up garbage is collected under it too. NETLOOMD_V8_FLAGS replaces it ("" for V8's defaults).
setFlagsFromString(process.env.NETLOOMD_V8_FLAGS ?? '--optimize-for-size');
const { runDaemon } = await import('./main.js');

runDaemon(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`netloomd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
