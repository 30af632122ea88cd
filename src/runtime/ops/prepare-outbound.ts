/**
 * `prepareOutbound` (part of every sweep): make sure the session has a usable `outbound.db`.
 * The container owns the file and may have broken it (planted a link, written garbage, dropped
 * its tables); a session must never be wedged by that.
 *
 * Invariant (guarded by test/runtime/hostile-container.test.ts, "wake works after …"): while the
 * container is stopped (the only time the host may write `outbound.db`), an `outbound.db` the
 * verified open refuses or cannot read is moved aside inside the session folder (the entry
 * itself, never a link's target) and replaced by a fresh one; the refusal is reported. A hot
 * journal (a container killed mid-write) is not a refusal: it is rolled back and the file kept.
 */
import { renameSync } from 'node:fs';
import type { CommitInput } from '../../../machines/session.machine.js';
import { RuntimeError } from '../../errors.js';
import { violationOf, type ContainerViolation } from '../../files/container-violation.js';
import { lstatOrUndefined } from '../../files/fs-errors.js';
import { removeEntry } from '../../files/remove-entry.js';
import { createOutboundDb, isHotJournalError, readOutbound, rollBackOutbound } from '../../store/session-db.js';
import type { BatchEnv } from './types.js';

export function prepareOutbound(env: BatchEnv, input: CommitInput, at: number): ContainerViolation | null {
  if (input.containerStatus !== 'stopped') {
    throw new RuntimeError('CONTAINER_RUNNING', 'outbound.db may be replaced by the host only while stopped');
  }
  const path = env.outboundDbPath;
  const check = () =>
    readOutbound(path, (out) => {
      out.prepare('SELECT 1 FROM messages_out LIMIT 1').get();
      out.prepare('SELECT 1 FROM processing_ack LIMIT 1').get();
    });
  try {
    try {
      check();
    } catch (error) {
      if (!isHotJournalError(error)) throw error;
      // A container killed mid-write left a hot journal: roll it back (we are stopped), look again.
      rollBackOutbound(path, input.containerStatus, { onViolation: env.onViolation });
      check();
    }
    return null;
  } catch (error) {
    const v = violationOf(error);
    if (v === undefined) throw error;
    if (lstatOrUndefined(path) !== undefined) renameSync(path, `${path}.refused-${at}`);
    for (const side of ['-journal', '-wal', '-shm']) removeEntry(`${path}${side}`);
    createOutboundDb(path, { onViolation: env.onViolation });
    return v;
  }
}
