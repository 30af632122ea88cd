/**
 * One container that is a child process of the host, as a ContainerHandle. Shared by
 * processDriver (the child IS the container) and dockerDriver (the child is `docker run`).
 *
 * Invariants (guarded by test/container/child-handle.test.ts):
 * 1. `spawnChild` resolves only after the OS reported the spawn; a spawn failure (ENOENT, EACCES,
 *    a missing cwd) rejects with an Error naming the command ("rejects with a clear Error …").
 * 2. Every `onExit` callback runs exactly once with `{ code, signal }`, also when registered after
 *    the exit ("calls onExit exactly once, also after the exit").
 * 3. `stop()` asks politely (`terminate`), escalates (`forceKill`) after `killAfterMs`, and
 *    resolves only once the process has exited; repeated calls share one promise
 *    ("escalates to SIGKILL after killAfterMs").
 * 4. stdout and stderr are piped, always drained, and forwarded line by line to `log`; nothing
 *    is inherited from the host ("forwards stdout and stderr lines to log …").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ContainerExitInfo, ContainerHandle } from './driver.js';

export const DEFAULT_KILL_AFTER_MS = 5000;

/** Where a log line came from: the container's own output, or the driver's notes about it. */
export type LogStream = 'stdout' | 'stderr' | 'driver';

export interface ContainerLogInfo {
  stream: LogStream;
  sessionId: string;
  agentGroupId: string;
}

export type ContainerLog = (line: string, info: ContainerLogInfo) => void;

/** A handle that also exposes the child's pid (for tests and diagnostics). */
export interface ChildContainerHandle extends ContainerHandle {
  readonly pid: number | undefined;
}

export interface SpawnChildOptions {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Names the container in errors and log lines, e.g. "agent for session s1". */
  label: string;
  sessionId: string;
  agentGroupId: string;
  log?: ContainerLog;
  killAfterMs?: number;
  /** The polite request to stop; default SIGTERM to the child. */
  terminate?: (child: ChildProcess) => void;
  /** The escalation after `killAfterMs`; default SIGKILL to the child. */
  forceKill?: (child: ChildProcess) => void;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Spawns the child and resolves with its handle once it is running. */
export function spawnChild(options: SpawnChildOptions): Promise<ChildContainerHandle> {
  return new Promise((resolve, reject) => {
    const fail = (error: unknown): void =>
      reject(
        new Error(
          `cannot start ${options.label}: ${options.command}${options.cwd ? ` (cwd ${options.cwd})` : ''}: ${describe(error)}`,
          { cause: error },
        ),
      );
    let child: ChildProcess;
    try {
      child = spawn(options.command, [...options.args], {
        env: options.env,
        cwd: options.cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      // Synchronous refusals (bad argument types, NUL bytes) end up as the same rejection.
      fail(error);
      return;
    }
    const handle = new ChildHandle(child, options);
    const onError = (error: Error): void => fail(error);
    child.once('error', onError);
    child.once('spawn', () => {
      child.off('error', onError);
      resolve(handle);
    });
  });
}

class ChildHandle implements ChildContainerHandle {
  private exitInfo: ContainerExitInfo | undefined;
  private callbacks: ((info: ContainerExitInfo) => void)[] = [];
  private stopping: Promise<void> | undefined;
  private readonly exited: Promise<void>;

  constructor(
    private readonly child: ChildProcess,
    private readonly options: SpawnChildOptions,
  ) {
    let markExited!: () => void;
    this.exited = new Promise((done) => (markExited = done));
    child.once('exit', (code, signal) => {
      const info: ContainerExitInfo = { code, signal };
      this.exitInfo = info;
      this.note(`exited (code ${String(code)}, signal ${String(signal)})`);
      const callbacks = this.callbacks;
      this.callbacks = [];
      for (const cb of callbacks) this.call(cb, info);
      markExited();
    });
    // After a successful spawn an 'error' means a failed kill(); it must not crash the host.
    child.on('error', (error) => this.note(`process error: ${describe(error)}`));
    for (const stream of ['stdout', 'stderr'] as const) {
      const input = child[stream];
      if (input === null) continue;
      createInterface({ input, crlfDelay: Infinity }).on('line', (line) => this.emit(line, stream));
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  onExit(cb: (info: ContainerExitInfo) => void): void {
    const info = this.exitInfo;
    if (info === undefined) this.callbacks.push(cb);
    else queueMicrotask(() => this.call(cb, info));
  }

  stop(reason: string): Promise<void> {
    this.stopping ??= this.stopOnce(reason);
    return this.stopping;
  }

  private async stopOnce(reason: string): Promise<void> {
    if (this.exitInfo !== undefined) return;
    this.note(`stopping: ${reason}`);
    const killAfterMs = this.options.killAfterMs ?? DEFAULT_KILL_AFTER_MS;
    const escalate = setTimeout(() => {
      this.note(`still running ${killAfterMs} ms after the stop request, killing`);
      this.attempt('force kill', () => (this.options.forceKill ?? ((c) => c.kill('SIGKILL')))(this.child));
    }, killAfterMs);
    this.attempt('terminate', () => (this.options.terminate ?? ((c) => c.kill('SIGTERM')))(this.child));
    try {
      await this.exited;
    } finally {
      clearTimeout(escalate);
    }
  }

  private attempt(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      // A signal to a process that just exited, say; the exit wait below still settles it.
      this.note(`${what} failed: ${describe(error)}`);
    }
  }

  private call(cb: (info: ContainerExitInfo) => void, info: ContainerExitInfo): void {
    try {
      cb(info);
    } catch (error) {
      // One throwing listener must not keep the others from hearing about the exit.
      this.note(`onExit callback threw: ${describe(error)}`);
    }
  }

  private note(line: string): void {
    this.emit(`[${this.options.label}] ${line}`, 'driver');
  }

  private emit(line: string, stream: LogStream): void {
    emitLog(this.options.log, line, {
      stream,
      sessionId: this.options.sessionId,
      agentGroupId: this.options.agentGroupId,
    });
  }
}

/** Calls `log` if there is one; a throwing logger never breaks a container's lifecycle. */
export function emitLog(log: ContainerLog | undefined, line: string, info: ContainerLogInfo): void {
  if (log === undefined) return;
  try {
    log(line, info);
  } catch {
    // Nowhere left to report a failing logger to; dropping the line is the only safe choice.
  }
}
