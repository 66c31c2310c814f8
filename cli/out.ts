// What the CLI's handlers print with.
export const out = (s: string): void => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
export const json = (v: unknown): void => out(JSON.stringify(v, null, 4));
export const enc = encodeURIComponent;
