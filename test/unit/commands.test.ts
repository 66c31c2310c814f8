// The command tables (cli/commands.ts, daemon/flags.ts) against what is written about them: every
// --help is made from them, and the README's command list, its dockerd-flags table and the make
// targets it names are checked here, so a command or flag added, renamed or removed on one side
// only fails this test.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { COMMANDS, GROUPS } from '../../cli/commands.js';
import { commandHelp, groupHelp } from '../../cli/help.js';
import { flagLabel, optionLines, parseOptions, renderFlags, type Flags } from '../../common/flags.js';
import { CONFIG_KEYS } from '../../daemon/config.js';
import { DAEMON_FLAGS, DOCKERD_FLAGS, daemonHelp } from '../../daemon/flags.js';
import { CAPTURE_FLAGS, LAB_COMMANDS, LAB_FLAGS } from '../../lab/commands.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** What the README shows as code: fenced blocks and `inline` spans. */
function codeOf(md: string): string[] {
  const fenced = [...md.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  const inline = [...md.replace(/^```[\s\S]*?^```/gm, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  return [...fenced, ...inline];
}
const code = codeOf(readme);
const groupNames = new Set(GROUPS.map((g) => g.name));
const names = new Set(COMMANDS.map((c) => c.name));
/** Commands the README names as not (yet) supported. */
const NOT_YET = ['info'];

describe('the README against the command table', () => {
  test('every command is in the README as `netloom NAME`', () => {
    const text = code.join('\n');
    for (const c of COMMANDS) assert.match(text, new RegExp(`netloom ${c.name}\\b`), c.name);
    for (const c of LAB_COMMANDS) assert.match(text, new RegExp(`netloom lab ${c.name}\\b`), `lab ${c.name}`);
  });

  test('every `netloom GROUP VERB` the README shows is a declared command, with declared flags', () => {
    let seen = 0;
    const fenced = new Set([...readme.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]));
    for (const block of code) {
      for (const line of block.split('\n')) {
        // A command starts a line or span, or follows "$ ", ";" or "&&"; prose in code (an error
        // message quoted) starts with a word that is no command, and counts only in a fenced block.
        for (const m of line.matchAll(/(?:^|\$ |; |&& )netloom ([a-z]+)(?: ([a-z]+))?((?: +[^;#|]*)?)/g)) {
          const [, word, verb, rest] = m;
          if (word === 'lab') {
            if (verb)
              assert.ok(
                LAB_COMMANDS.some((c) => c.name === verb),
                `README: netloom lab ${verb}`,
              );
            const labFlags = { ...LAB_FLAGS, ...CAPTURE_FLAGS } as Flags;
            for (const f of (rest ?? '').matchAll(/(?:^|[\s[])(--?[a-zA-Z][\w-]*)/g)) {
              const known = Object.entries(labFlags).some(([k, d]) => f[1] === `--${k}` || f[1] === `-${d.short}`);
              assert.ok(known || f[1] === '--', `README: "netloom lab ${verb} ... ${f[1]}": no such flag`);
            }
            continue;
          }
          if (NOT_YET.includes(word) || (!fenced.has(block) && !groupNames.has(word) && !names.has(word))) continue;
          if (groupNames.has(word) && !verb) continue; // "netloom sandbox" alone names the group
          const name = groupNames.has(word) ? `${word} ${verb}` : word;
          assert.ok(names.has(name), `README shows "netloom ${name}", which is not a command`);
          const cmd = COMMANDS.find((c) => c.name === name)!;
          for (const f of (rest ?? '').matchAll(/(?:^|\s)(--?[a-zA-Z][\w-]*)/g)) {
            const flag = f[1];
            const known = Object.entries({ ...cmd.flags, socket: {}, 'data-dir': {}, help: { short: 'h' } }).some(
              ([k, d]) => flag === `--${k}` || flag === `-${(d as { short?: string }).short}`,
            );
            assert.ok(known || cmd.kind === 'raw', `README: "netloom ${name} ... ${flag}": no such flag`);
          }
          seen++;
        }
      }
    }
    assert.ok(seen > 20, `the README's examples were read (${seen})`);
  });

  test("the dockerd-flags table lists exactly dockerd's flags, and sandbox create's rows are its flags", () => {
    const table = readme.slice(readme.indexOf("### Docker's run and dockerd flags"));
    const rows = table
      .slice(0, table.indexOf('\n\n', table.indexOf('|---')))
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    const flagsIn = (cell: string) => [...cell.matchAll(/(?:^|[\s`/])--([a-z][\w-]*)/g)].map((m) => m[1]);
    const daemonAt = rows.findIndex((r) => r.startsWith('| `netloomd'));
    assert.ok(daemonAt > 0, 'the table has sandbox rows, then netloomd rows');
    const sandbox = COMMANDS.find((c) => c.name === 'sandbox create')!.flags!;
    for (const r of rows.slice(0, daemonAt)) for (const f of flagsIn(r.split('|')[1])) assert.ok(f in sandbox, `sandbox create --${f}`);
    const listed = rows.slice(daemonAt).flatMap((r) => flagsIn(r.split('|')[1]));
    for (const f of listed) assert.ok(f in DAEMON_FLAGS, `netloomd --${f}`);
    for (const f of Object.keys(DOCKERD_FLAGS).filter((k) => k !== 'help')) assert.ok(listed.includes(f), `README's table lacks netloomd --${f}`);
  });

  test("the keys the README gives daemon.json are the table's", () => {
    const row = readme.split('\n').find((l) => l.startsWith('| `--config-file PATH`'))!;
    const keys = [...row.split('|')[3].matchAll(/`([a-z][\w-]*)(?::[^`]*)?`/g)].map((m) => m[1]);
    assert.ok(keys.length > 10, row);
    for (const k of keys) assert.ok(k in CONFIG_KEYS, `README names daemon.json key "${k}"`);
  });

  test('every make target the README names is in `make help`', () => {
    const help = execFileSync('make', ['-s', '--no-print-directory', 'help'], { cwd: root, encoding: 'utf8' });
    const targets = new Set(
      help
        .split('\n')
        .map((l) => l.split(/\s/)[0])
        .filter(Boolean),
    );
    const named = code.flatMap((c) => [...c.matchAll(/\bmake ([a-z][\w-]*)/g)].map((m) => m[1]));
    assert.ok(named.length >= 3, `the README names make targets: ${named.join(' ')}`);
    for (const t of named) assert.ok(targets.has(t), `README names "make ${t}", which make help does not list`);
  });
});

describe('help made from the table', () => {
  test("each command's help has its usage and every flag", () => {
    for (const c of COMMANDS) {
      const h = commandHelp(c);
      assert.ok(h.startsWith(`Usage: netloom ${c.name}`), c.name);
      for (const [k, f] of Object.entries(c.flags ?? {})) assert.ok(h.includes(`--${k}`) && (!f.short || h.includes(`-${f.short}`)), `${c.name} --${k}`);
    }
    for (const g of GROUPS)
      for (const c of COMMANDS.filter((x) => x.name.startsWith(`${g.name} `))) assert.match(groupHelp(g, COMMANDS), new RegExp(c.name.split(' ')[1]));
  });

  test('netloomd --help lists every flag, and --config-file every daemon.json key', () => {
    const h = daemonHelp();
    for (const [k, f] of Object.entries(DAEMON_FLAGS)) assert.ok(h.includes(`--${k}`) && (!f.short || h.includes(`-${f.short}, --${k}`)), k);
    const cf = h.slice(h.indexOf('--config-file'), h.indexOf('-h, --help'));
    for (const k of Object.keys(CONFIG_KEYS)) assert.match(cf, new RegExp(`\\b${k}\\b`), k);
  });

  test("the parser gets each flag's type, alias, repeatability and default", () => {
    const o = parseOptions({ d: { type: 'string', short: 'x', multiple: true, default: 'y', help: '' }, b: { type: 'boolean', help: '' } });
    assert.deepEqual(o, { d: { type: 'string', short: 'x', multiple: true, default: 'y' }, b: { type: 'boolean' } });
  });

  test("an option's help starts at the column, or two spaces after a long label, or below a very long one", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }).filter((s) => !/\s/.test(s)),
        fc.integer({ min: 8, max: 30 }),
        (label, width) => {
          const [first, second] = optionLines(label, 'help\nmore', { width });
          if (label.length > 48) return first === `  ${label}` && second === `${' '.repeat(width + 2)}help`;
          const at = first.indexOf('help');
          return (label.length < width ? at === width + 2 : at === label.length + 4) && second === `${' '.repeat(width + 2)}more`;
        },
      ),
    );
  });

  test('neighbours with the same sameAs share one line', () => {
    const f: Flags = {
      ip: { type: 'string', value: 'IP', help: 'a', sameAs: 'x' },
      publish: { type: 'string', short: 'p', help: 'b', sameAs: 'x' },
      z: { type: 'boolean', help: 'zz' },
    };
    assert.equal(renderFlags(f, { width: 10 }), '  --ip, -p/--publish  as for x\n  --z       zz');
    assert.equal(flagLabel('icc', { type: 'string', value: '=false', help: '' }), '--icc=false');
    assert.equal(flagLabel('subnet', { type: 'string', value: 'CIDR', help: '' }, true), '    --subnet CIDR');
  });
});
