/**
 * The digest worker: on a worker thread, computes the digest text of session DBs
 * (`folderDigestText`, the same function the main thread uses) and hands it back, so a replay's
 * final digest reads half of the session DBs on the other core (src/eventlog/parallel-digest.ts).
 *
 * Invariant (guarded by test/eventlog/parallel-digest.test.ts): a job is answered once, with one
 * text per folder in the order asked, or with the error that stopped it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { folderDigestText, type DigestFolder } from './digest.js';

export const DIGEST_WORKER_ROLE = 'session-actors/digest-worker';

export interface DigestJob {
  id: number;
  folders: DigestFolder[];
}

export type DigestReply = { id: number; texts: string[] } | { id: number; error: string };

const port = parentPort;
if (port !== null && (workerData as { role?: unknown } | null)?.role === DIGEST_WORKER_ROLE) {
  port.on('message', (job: DigestJob) => {
    let reply: DigestReply;
    try {
      reply = { id: job.id, texts: job.folders.map(folderDigestText) };
    } catch (error) {
      reply = { id: job.id, error: error instanceof Error ? error.message : String(error) };
    }
    port.postMessage(reply);
  });
}
