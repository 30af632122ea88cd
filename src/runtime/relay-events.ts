/**
 * What the runtime's parts report, turned into the runtime's public events: a session actor's
 * emitted events (status changes written centrally, recorded and emitted; start and stop
 * failures), and a read-only observer's central changes.
 *
 * Invariant (guarded by test/runtime/relay-events.test.ts): a container status change reaches the
 * central row, the event log and `container.status` in that order, so a listener reading the
 * central row sees the new status. Observers' events: test/runtime/read-only.test.ts.
 */
import type { EventEmitter } from 'eventemitter3';
import type { SessionEmitted } from '../../machines/session.machine.js';
import { toStorageError } from '../errors.js';
import type { Recorder } from '../eventlog/recorder.js';
import { setContainerStatus, type SessionRow } from '../store/central.js';
import type { Db } from '../store/session-db.js';
import type { CentralChange } from './central-watch.js';
import type { LastActive } from './last-active.js';
import type { Logger, RuntimeEvents, SessionInfo } from './types.js';

export type StartFailures = EventEmitter<{ failed: (e: { sessionId: string; error: unknown }) => void }>;

export interface RelayDeps {
  central: Db;
  lastActive: LastActive;
  recorder: Recorder | undefined;
  logger: Logger;
  startFailures: StartFailures;
  emit: <E extends keyof RuntimeEvents>(event: E, payload: Parameters<RuntimeEvents[E]>[0]) => void;
  report: (error: unknown, sessionId?: string) => void;
  info: (row: SessionRow) => SessionInfo;
}

/** A session actor's emitted event, relayed. */
export function relayEmitted(deps: RelayDeps, event: SessionEmitted): void {
  switch (event.type) {
    case 'container.status': {
      const at = event.to === 'running' && event.at !== null ? new Date(event.at).toISOString() : null;
      if (at !== null) deps.lastActive.note(event.sessionId, at);
      try {
        setContainerStatus(deps.central, event.sessionId, event.to, at);
      } catch (error) {
        deps.report(toStorageError(error, 'container status'), event.sessionId);
      }
      const { sessionId, from, to, reason } = event;
      deps.recorder?.record({ k: 'tr', sessionId, from, to, reason });
      deps.emit('container.status', { sessionId, from, to, reason });
      return;
    }
    case 'container.stopFailed':
      deps.report(toStorageError(event.error, 'container stop'), event.sessionId);
      return;
    case 'container.startFailed':
      deps.logger.warn({ sessionId: event.sessionId, error: event.error }, 'container start failed');
      deps.startFailures.emit('failed', { sessionId: event.sessionId, error: event.error });
      return;
    case 'mailbox.settled':
    case 'session.passivate':
      return;
  }
}

/** An observer's view of another process's runtime, as events. */
export function relayCentralChange(deps: RelayDeps, change: CentralChange): void {
  switch (change.type) {
    case 'created':
      deps.emit('session.created', { session: deps.info(change.row) });
      return;
    case 'closed':
      deps.emit('session.closed', { sessionId: change.row.id });
      return;
    case 'status':
      deps.emit('container.status', {
        sessionId: change.row.id,
        from: change.from,
        to: change.to,
        reason: 'seen in the central DB',
      });
      return;
  }
}
