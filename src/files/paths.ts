/**
 * The data directory layout of FORMAT.md. Every helper validates each id with
 * `assertSafeSegment` before building a path, so no unsafe id reaches the file system.
 */
import { join } from 'node:path';
import { assertSafeSegment } from './segment.js';

export const CENTRAL_DB_FILE = 'v2.db';
export const SESSIONS_DIR = 'v2-sessions';

export interface SessionPaths {
  sessionDir(agentGroupId: string, sessionId: string): string;
  inboundDbPath(agentGroupId: string, sessionId: string): string;
  outboundDbPath(agentGroupId: string, sessionId: string): string;
  heartbeatPath(agentGroupId: string, sessionId: string): string;
  inboxDir(agentGroupId: string, sessionId: string): string;
  outboxDir(agentGroupId: string, sessionId: string): string;
}

export function centralDbPath(dataDir: string): string {
  return join(dataDir, CENTRAL_DB_FILE);
}

export function sessionDir(dataDir: string, agentGroupId: string, sessionId: string): string {
  return join(
    dataDir,
    SESSIONS_DIR,
    assertSafeSegment(agentGroupId, 'agentGroupId'),
    assertSafeSegment(sessionId, 'sessionId'),
  );
}

export function createPaths(dataDir: string): SessionPaths {
  const inSession = (file: string) => (ag: string, s: string) => join(sessionDir(dataDir, ag, s), file);
  return {
    sessionDir: (ag, s) => sessionDir(dataDir, ag, s),
    inboundDbPath: inSession('inbound.db'),
    outboundDbPath: inSession('outbound.db'),
    heartbeatPath: inSession('.heartbeat'),
    inboxDir: inSession('inbox'),
    outboxDir: inSession('outbox'),
  };
}
