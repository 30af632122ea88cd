/**
 * Shared fixtures for the container tests: a real session folder in its own temp dir, written and
 * read through the host's own store helpers, and a deadline-bounded `waitFor` instead of sleeps.
 */
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { ContainerExitInfo, ContainerStartContext } from '../../src/container/driver.js';
import { processDriver, type ChildContainerHandle } from '../../src/container/process-driver.js';
import { insertMessageIn, writeRouting, type NewInboundRow, type Routing } from '../../src/store/inbound.js';
import { createSessionDbs, readInbound, readOutbound, withInbound } from '../../src/store/session-db.js';

export interface OutRow {
  id: string;
  seq: number;
  in_reply_to: string | null;
  timestamp: string;
  kind: string;
  platform_id: string | null;
  channel_type: string | null;
  thread_id: string | null;
  content: string;
}

export interface TestSession {
  root: string;
  ctx: ContainerStartContext;
  /** Writes one inbound row (host side); returns its seq. */
  write(row: Partial<NewInboundRow> & { id: string; content: string }): number;
  outbound(): OutRow[];
  acks(): Map<string, string>;
  inboundSeqs(): number[];
  heartbeatMtimeMs(): number | undefined;
  cleanup(): void;
}

export const DEFAULT_ROUTING: Routing = { channelType: 'slack', platformId: 'C123', threadId: 'T9' };

export function makeSession(options: { routing?: Routing | null } = {}): TestSession {
  const root = mkdtempSync(join(tmpdir(), 'sa-container-'));
  const sessionDir = join(root, 'v2-sessions', 'ag-test', 'sess-test');
  mkdirSync(sessionDir, { recursive: true });
  const ctx: ContainerStartContext = {
    sessionId: 'sess-test',
    agentGroupId: 'ag-test',
    sessionDir,
    inboundDbPath: join(sessionDir, 'inbound.db'),
    outboundDbPath: join(sessionDir, 'outbound.db'),
    heartbeatPath: join(sessionDir, '.heartbeat'),
  };
  createSessionDbs(ctx.inboundDbPath, ctx.outboundDbPath);
  const routing = options.routing === undefined ? DEFAULT_ROUTING : options.routing;
  if (routing !== null) withInbound(ctx.inboundDbPath, (db) => writeRouting(db, routing));

  return {
    root,
    ctx,
    write: (row) =>
      withInbound(ctx.inboundDbPath, (db) =>
        insertMessageIn(db, { kind: 'chat', timestamp: new Date().toISOString(), ...row }),
      ),
    outbound: () =>
      readOutbound(ctx.outboundDbPath, (db) => db.prepare('SELECT * FROM messages_out ORDER BY seq').all() as OutRow[]),
    acks: () =>
      readOutbound(ctx.outboundDbPath, (db) => {
        const rows = db.prepare('SELECT message_id, status FROM processing_ack').all() as {
          message_id: string;
          status: string;
        }[];
        return new Map(rows.map((r) => [r.message_id, r.status]));
      }),
    inboundSeqs: () =>
      readInbound(ctx.inboundDbPath, (db) =>
        (db.prepare('SELECT seq FROM messages_in ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq),
      ),
    heartbeatMtimeMs: () => {
      try {
        return statSync(ctx.heartbeatPath).mtimeMs;
      } catch {
        // Not written yet.
        return undefined;
      }
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Polls `probe` until it returns something other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(
  probe: () => T | undefined | false,
  what: string,
  { timeoutMs = 10_000, intervalMs = 15 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}

/** Paths of the files process `pid` has open right now (Linux /proc). */
export function openFiles(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  const paths: string[] = [];
  for (const fd of readdirSync(dir)) {
    try {
      paths.push(readlinkSync(join(dir, fd)));
    } catch {
      // The fd was closed between the listing and the readlink: it is not open.
    }
  }
  return paths;
}

export interface StartedAgent {
  handle: ChildContainerHandle;
  exit: Promise<ContainerExitInfo>;
  /** Every line the agent printed so far. */
  lines: string[];
}

/**
 * Session folders and reference-agent processes for one test file, all removed after each test.
 * `start` runs the bundled agent (a real child process) on a 50 ms poll and no idle exit, unless
 * `env` says otherwise.
 */
export function useAgentSessions(): {
  session(options?: Parameters<typeof makeSession>[0]): TestSession;
  start(s: TestSession, env?: Record<string, string>): Promise<StartedAgent>;
} {
  const sessions: TestSession[] = [];
  const handles: ChildContainerHandle[] = [];
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.stop('test over')));
    for (const s of sessions.splice(0)) s.cleanup();
  });
  return {
    session(options) {
      const s = makeSession(options);
      sessions.push(s);
      return s;
    },
    async start(s, env = {}) {
      const lines: string[] = [];
      const driver = processDriver({
        env: { AGENT_POLL_MS: '50', AGENT_IDLE_EXIT_MS: '0', ...env },
        log: (line) => lines.push(line),
      });
      const handle = await driver.start(s.ctx);
      handles.push(handle);
      const exit = new Promise<ContainerExitInfo>((done) => handle.onExit(done));
      return { handle, exit, lines };
    },
  };
}
