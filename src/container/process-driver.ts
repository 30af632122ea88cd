/**
 * The process driver: each session's container is a child process of the host, by default the
 * bundled reference agent (./agent/main). The child finds its session through the environment
 * (`sessionEnv`), exactly as a container would.
 *
 * Invariants (guarded by test/container/child-handle.test.ts "processDriver" and agent.test.ts):
 * 1. The child's environment always carries SESSION_DIR, INBOUND_DB, OUTBOUND_DB, HEARTBEAT_PATH,
 *    SESSION_ID and AGENT_GROUP_ID from the start context; `env` cannot override them
 *    ("passes the session environment").
 * 2. The default command runs the agent that sits next to this module: `main.js` when this
 *    module is compiled, `main.ts` through tsx when it runs as TypeScript source
 *    ("bundledAgentCommand picks main.js when compiled …").
 * 3. Lifecycle (spawn errors, onExit once, stop escalation) is child-handle.ts's, not repeated here.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnChild, type ChildContainerHandle, type ContainerLog } from './child-handle.js';
import type { ContainerDriver, ContainerStartContext } from './driver.js';

export type { ChildContainerHandle, ContainerLog, ContainerLogInfo, LogStream } from './child-handle.js';

/** A driver whose handles are child processes (they expose `pid`). */
export interface ChildContainerDriver extends ContainerDriver {
  start(ctx: ContainerStartContext): Promise<ChildContainerHandle>;
}

export interface ProcessDriverOptions {
  /** Program to run; default `process.execPath` (node) running the bundled agent. */
  command?: string;
  /** Its arguments; default the bundled agent's entry point (empty when `command` is given). */
  args?: readonly string[];
  /** Extra environment for the child, on top of the host's own environment. */
  env?: Record<string, string>;
  /** Working directory of the child; default the session folder. */
  cwd?: string;
  /** SIGKILL this long after the SIGTERM of `stop()`; default 5000. */
  killAfterMs?: number;
  /** Receives every line the child prints, and the driver's own notes. */
  log?: ContainerLog;
}

/** The variables a container finds its session by (the agent's env contract). */
export function sessionEnv(ctx: ContainerStartContext): Record<string, string> {
  return {
    SESSION_DIR: ctx.sessionDir,
    INBOUND_DB: ctx.inboundDbPath,
    OUTBOUND_DB: ctx.outboundDbPath,
    HEARTBEAT_PATH: ctx.heartbeatPath,
    SESSION_ID: ctx.sessionId,
    AGENT_GROUP_ID: ctx.agentGroupId,
  };
}

/**
 * How to run the bundled reference agent from the module at `moduleUrl`: compiled, node runs
 * `agent/main.js`; as TypeScript source (vitest, tsx), node runs `agent/main.ts` with tsx's
 * loader, resolved to an absolute URL so the child's cwd does not matter.
 */
export function bundledAgentCommand(moduleUrl: string = import.meta.url): { command: string; args: string[] } {
  const isSource = fileURLToPath(moduleUrl).endsWith('.ts');
  const main = fileURLToPath(new URL(isSource ? './agent/main.ts' : './agent/main.js', moduleUrl));
  if (!isSource) return { command: process.execPath, args: [main] };
  const tsx = pathToFileURL(createRequire(moduleUrl).resolve('tsx')).href;
  return { command: process.execPath, args: ['--import', tsx, main] };
}

export function processDriver(options: ProcessDriverOptions = {}): ChildContainerDriver {
  return {
    async start(ctx) {
      let command: string;
      let args: readonly string[];
      if (options.command !== undefined) {
        command = options.command;
        args = options.args ?? [];
      } else if (options.args !== undefined) {
        command = process.execPath;
        args = options.args;
      } else {
        ({ command, args } = bundledAgentCommand());
      }
      return spawnChild({
        command,
        args,
        env: { ...process.env, ...options.env, ...sessionEnv(ctx) },
        cwd: options.cwd ?? ctx.sessionDir,
        label: `container of session ${ctx.sessionId}`,
        sessionId: ctx.sessionId,
        agentGroupId: ctx.agentGroupId,
        log: options.log,
        killAfterMs: options.killAfterMs,
      });
    },
  };
}
