/**
 * `DigestThread`: the final digest of a large replay on two cores. A worker thread is started when
 * the replay starts (so its start-up overlaps the replay) and, at the end, computes the digest text
 * of the second half of the session DBs while the main thread hashes the central rows and the first
 * half; the texts are then hashed in digest order.
 *
 * Invariants (guarded by test/eventlog/parallel-digest.test.ts):
 * 1. The result equals `digestDataDir` of the same directory: the same text function, hashed in
 *    the same order.
 * 2. A worker that cannot start, fails or dies never fails the digest: its half is computed on the
 *    main thread instead.
 * 3. The worker never keeps the process alive (`unref`), and `close` stops it.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { digestFolders, folderDigestText, startDigest, type DigestFolder } from './digest.js';
import { DIGEST_WORKER_ROLE, type DigestReply } from './digest-worker.js';

let bundled: string | undefined;

/**
 * How to start the worker. Compiled, it is `digest-worker.js` beside this module; run from
 * TypeScript source (tests, tsx), its module graph is bundled once per process with esbuild (a
 * development dependency), as a worker thread does not inherit its parent's TypeScript loader.
 */
function workerSource(): { file: URL } | { code: string } {
  if (!fileURLToPath(import.meta.url).endsWith('.ts')) return { file: new URL('./digest-worker.js', import.meta.url) };
  if (bundled === undefined) {
    const require = createRequire(import.meta.url);
    const esbuild = require('esbuild') as typeof import('esbuild');
    const sqlite = require.resolve('better-sqlite3');
    const out = esbuild.buildSync({
      entryPoints: [fileURLToPath(new URL('./digest-worker.ts', import.meta.url))],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['better-sqlite3'],
      logLevel: 'silent',
    });
    bundled = out.outputFiles[0]!.text.replaceAll('require("better-sqlite3")', `require(${JSON.stringify(sqlite)})`);
  }
  return { code: bundled };
}

export class DigestThread {
  private worker: Worker | undefined;
  private failure: unknown;
  private reply: ((reply: DigestReply) => void) | undefined;
  /** Session DBs whose text the worker computed, over every digest so far. */
  workerFolders = 0;

  constructor() {
    try {
      const source = workerSource();
      const options = { workerData: { role: DIGEST_WORKER_ROLE } };
      const worker =
        'file' in source ? new Worker(source.file, options) : new Worker(source.code, { ...options, eval: true });
      worker.unref();
      worker.on('message', (reply: DigestReply) => this.reply?.(reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => this.fail(new Error(`the digest thread exited with code ${code}`)));
      this.worker = worker;
    } catch (error) {
      // No worker (no esbuild from source, no threads): the main thread digests everything.
      this.failure = error;
    }
  }

  /** `digestDataDir(dataDir)`, with half of the session DBs read on the worker thread. */
  async digest(dataDir: string): Promise<string> {
    const folders = digestFolders(dataDir);
    const half = Math.ceil(folders.length / 2);
    const theirs = folders.slice(half);
    const texts = theirs.length === 0 ? Promise.resolve(null) : this.ask(theirs);
    const hash = startDigest(dataDir);
    for (const folder of folders.slice(0, half)) hash.update(folderDigestText(folder));
    const fromWorker = await texts;
    if (fromWorker !== null) this.workerFolders += fromWorker.length;
    for (const text of fromWorker ?? theirs.map(folderDigestText)) hash.update(text);
    return hash.digest('hex');
  }

  close(): void {
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) void worker.terminate();
  }

  /** The worker's texts for `folders`, or null when it cannot give them (the caller computes them). */
  private ask(folders: DigestFolder[]): Promise<string[] | null> {
    const worker = this.worker;
    if (worker === undefined || this.failure !== undefined) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.reply = (reply) => {
        this.reply = undefined;
        resolve('texts' in reply ? reply.texts : null);
      };
      worker.ref();
      worker.postMessage({ id: 1, folders });
    }).finally(() => worker.unref()) as Promise<string[] | null>;
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    this.worker = undefined;
    this.reply?.({ id: 1, error: String(error) });
  }
}
