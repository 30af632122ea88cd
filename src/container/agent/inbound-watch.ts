/**
 * How the reference agent learns of new inbound rows at once: a file-system watch on the folder
 * of `inbound.db` ends the wait between polls as soon as the file changes. The timer poll stays:
 * it is the fallback when no watch can run, and the reads of each poll remain the source of truth
 * (an event only says "look now").
 *
 * The folder is watched, not the file: SQLite in journal_mode=DELETE rewrites `inbound.db` in
 * place and creates and deletes `inbound.db-journal` next to it, and only events naming
 * `inbound.db` itself wake the agent (its own `outbound.db` and `.heartbeat` writes, and events
 * without a file name, never do, so a poll cannot wake the next one).
 *
 * Invariants (guards in test/container/agent-watch.test.ts):
 * 1. A change to `inbound.db` during a wait ends the wait; one during a poll ends the next wait
 *    at once ("a row written while the agent sleeps on a 60 s poll is answered promptly").
 * 2. The watch never keeps the process alive (`persistent: false`) and `close()` releases it
 *    ("releases the watch on abort and on idle exit").
 * 3. A watch that cannot start, or fails later, leaves timer polling in charge and says so in
 *    one log line ("falls back to polling with one log line").
 */
import { watch as fsWatch } from 'node:fs';
import { basename, dirname } from 'node:path';

/** The part of a directory watcher the agent uses. */
export interface DirWatcher {
  close(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Starts watching `dir`; throws when it cannot (`fs.watch` by default). */
export type WatchDir = (dir: string, onEvent: (filename: string | null) => void) => DirWatcher;

export const watchDir: WatchDir = (dir, onEvent) =>
  fsWatch(dir, { persistent: false }, (_event, name) => onEvent(name));

export interface InboundWake {
  /**
   * Waits up to `ms`, less when `inbound.db` changes meanwhile or changed since the last wait.
   * Resolves true when the wait ended (time or change), false at once when `signal` aborts.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean>;
  /** False when no watch runs (it never started, failed or was closed): waits last `ms`. */
  readonly watching: boolean;
  /** Stops the watch; later waits last their full time. Idempotent. */
  close(): void;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export function watchInbound(inboundDb: string, log: (line: string) => void, watch: WatchDir = watchDir): InboundWake {
  const dir = dirname(inboundDb);
  const file = basename(inboundDb);
  let changed = false;
  let wake: (() => void) | null = null;
  let watcher: DirWatcher | null = null;

  const stop = (): void => {
    const w = watcher;
    watcher = null;
    w?.close();
  };

  try {
    watcher = watch(dir, (name) => {
      if (name !== file) return;
      changed = true;
      wake?.();
    });
    watcher.on('error', (error) => {
      log(`watch on ${dir} failed (${message(error)}), polling only`);
      stop();
    });
  } catch (error) {
    log(`cannot watch ${dir} (${message(error)}), polling only`);
    watcher = null;
  }

  return {
    get watching() {
      return watcher !== null;
    },
    sleep(ms, signal) {
      return new Promise((done) => {
        if (signal?.aborted) return done(false);
        if (changed) {
          changed = false;
          return done(true);
        }
        const finish = (value: boolean): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          wake = null;
          changed = false;
          done(value);
        };
        const onAbort = (): void => finish(false);
        const timer = setTimeout(() => finish(true), ms);
        wake = () => finish(true);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    close() {
      stop();
      wake = null;
    },
  };
}
