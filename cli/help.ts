// --help texts, made from the command table (cli/commands.ts, handed in by cli/main.ts: this module
// is imported only when help is asked for, and imports no table itself).
import { renderFlags, renderList, type Layout } from '../common/flags.js';
import type { Command, Group } from './command.js';

export interface Table {
  readonly commands: readonly Command[];
  readonly groups: readonly Group[];
  /** netloom --help's first paragraph and its global options. */
  readonly about: string;
  readonly globals: string;
}

const DEFAULT_LAYOUT: Layout = { width: 20 };

export function commandHelp(c: Command): string {
  const parts = [`Usage: netloom ${c.usage}`];
  if (c.about) parts.push(c.about);
  if (c.flags && Object.keys(c.flags).length) parts.push(`Options:\n${renderFlags(c.flags, c.layout ?? DEFAULT_LAYOUT)}`);
  if (c.notes) parts.push(c.notes);
  return parts.join('\n\n');
}

/** A group's commands; a group of one command (dns, plugin, store, system) shows that command's help. */
export function groupHelp(g: Group, commands: readonly Command[]): string {
  const members = commands.filter((c) => c.name.startsWith(`${g.name} `));
  if (members.length === 1) return commandHelp(members[0]);
  const list = members.map((c) => [c.name.slice(g.name.length + 1), c.summary] as const);
  return `Usage: netloom ${g.name} COMMAND\n\n${g.about ? `${g.about}\n` : ''}Commands:\n${renderList(list, { width: 12 })}`;
}

/** netloom's command list: groups and one-word commands, in the table's order. */
function topList(groups: readonly Group[], commands: readonly Command[]): string {
  const items: (readonly [string, string])[] = [];
  for (const c of commands) {
    const [word] = c.name.split(' ');
    if (items.some(([n]) => n === word)) continue;
    const g = groups.find((x) => x.name === word);
    const verbs = commands.filter((x) => x.name.startsWith(`${word} `)).map((x) => x.name.slice(word.length + 1));
    items.push([word, g ? (g.summary ?? verbs.join(', ')) : c.summary]);
  }
  return renderList(items, { width: 11 });
}

export function mainHelp(t: Table): string {
  return `Usage: netloom COMMAND\n\n${t.about}\n\nCommands:\n${topList(t.groups, t.commands)}\n\n${t.globals}\nRun 'netloom COMMAND --help' for more.`;
}
