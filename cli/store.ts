// `netloom store verify`: reads the data dir's files and checks every record, offline — no daemon
// is asked (a daemon refuses to start on a damaged store, which is when this is needed). The one
// CLI command that reads the store directly rather than through netloomd's API.
import { existsSync } from 'node:fs';
import { resolvePaths } from '../common/config.js';
import { checkStore } from '../store/file.js';
import { describeDamage } from '../store/format.js';
import { UsageError } from '../common/errors.js';
import type { LocalHandler } from './command.js';

/** The command (declared in cli/commands.ts): --data-dir here or before the command words. */
export const storeVerifyCommand: LocalHandler = async (p, { globals, out }) => {
  if (p.positionals.length) throw new UsageError(`store verify takes no arguments, got "${p.positionals[0]}"`);
  return storeVerify(resolvePaths({ dataDir: (p.values['data-dir'] as string | undefined) ?? globals.dataDir }).dataDir, out);
};

export function storeVerify(dataDir: string, out: (s: string) => void): number {
  if (!existsSync(dataDir)) {
    out(`store ${dataDir}: no such directory (give the daemon's --data-dir)`);
    return 1;
  }
  const c = checkStore(dataDir);
  const recs = c.wal.records;
  const rev = Math.max(c.snapshot?.rev ?? 0, ...recs.map((r) => r.rev));
  if (c.damage.length) {
    out(`store ${dataDir}: ${c.damage.length} damaged place(s); ${recs.length} log record(s) verify:`);
    for (const d of c.damage) out(`  ${describeDamage(dataDir, d)}`);
    out('start "netloomd --salvage" to keep every record that verifies (damaged files are moved aside, never deleted)');
    return 1;
  }
  const snap = c.snapshot ? `snapshot at revision ${c.snapshot.rev}, ` : '';
  const torn = c.wal.tornTail ? '; a torn last record (never acknowledged) will be dropped' : '';
  const old = c.oldFormat ? '; records without checksums (format 1) are upgraded at the next compaction' : '';
  out(`store ${dataDir}: sound at revision ${rev} (${snap}${recs.length} log record(s))${torn}${old}`);
  return 0;
}
