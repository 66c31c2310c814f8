// An exclusive lock on a file, held by an open file descriptor for as long as the process lives.
// flock(2) (native/nsaddon.c): the kernel drops it when the holder's last descriptor closes, which
// a kill -9 does too, so a dead holder never blocks anyone, whatever became of its PID (a zombie
// nobody reaps, a PID reused by another program). The file also carries the holder's PID, only to
// name it in the refusal. Node opens files O_CLOEXEC, so commands the daemon runs do not inherit it.
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { loadNative } from './native.js';

interface Addon {
  flockExclusive(fd: number): boolean;
}

export interface FileLock {
  /** Releases the lock (closes the descriptor). The file stays: unlinking a lock file races. */
  release(): void;
}

/** Takes the lock, or returns the PID the file names as its holder (0 when it names none). */
export function tryLock(path: string): FileLock | { heldBy: number } {
  const addon = loadNative<Addon>('nsaddon');
  if (!addon?.flockExclusive) throw new Error('native/nsaddon.node is missing or does not load: run "make build" first');
  const fd = openSync(path, 'a+', 0o600);
  let locked = false;
  try {
    locked = addon.flockExclusive(fd);
  } finally {
    if (!locked) closeSync(fd);
  }
  if (!locked) return { heldBy: Number(readFileSync(path, 'utf8').trim()) || 0 };
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`);
  let open = true;
  return {
    release() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
