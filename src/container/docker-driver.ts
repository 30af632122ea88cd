/**
 * The docker driver: each session's container is `docker run` (or podman, via `runtimeBin`) of
 * an image whose entry point is a container agent. The session folder is mounted at /workspace
 * and the agent finds its files through the same environment contract as with processDriver.
 *
 * Invariants (guarded by test/container/docker-driver.test.ts):
 * 1. `dockerRunArgs` is pure and gives exactly: run --rm -i --name <name> -v <abs sessionDir>:/workspace,
 *    the six session variables with /workspace paths, the user's env, extraArgs, image
 *    ("builds the exact docker run argument list").
 * 2. The container name is `session-actors-<agentGroupId>-<sessionId>` with every character outside
 *    [a-zA-Z0-9_.-] replaced by `_`; a name that needed changes or is over 128 characters gets a
 *    hash of the original appended (after truncation), so it stays ≤ 128 and distinct
 *    ("sanitises and bounds the container name").
 * 3. `stop()` asks the runtime (`<bin> stop <name>`), falls back to SIGTERM for the client when
 *    that fails, escalates to `<bin> kill <name>` + SIGKILL after killAfterMs, and resolves when
 *    the `run` client has exited ("dockerDriver through a fake runtime binary › runs end to end …").
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { emitLog, spawnChild, type ContainerLog, type ContainerLogInfo } from './child-handle.js';
import type { ContainerStartContext } from './driver.js';
import { sessionEnv, type ChildContainerDriver } from './process-driver.js';

/** Where the session folder appears inside the container. */
export const WORKSPACE = '/workspace';
const MAX_NAME_LENGTH = 128;

export interface DockerDriverOptions {
  image: string;
  /** The container runtime CLI; default `docker`. */
  runtimeBin?: string;
  /** Put between the session's flags and the image (resource limits, networks, …). */
  extraArgs?: readonly string[];
  /** Extra environment for the container (`-e K=V`); the session variables cannot be overridden. */
  env?: Record<string, string>;
  /** Escalate to `<bin> kill` this long after `<bin> stop`; default 5000. */
  killAfterMs?: number;
  log?: ContainerLog;
}

export function containerName(agentGroupId: string, sessionId: string): string {
  const raw = `session-actors-${agentGroupId}-${sessionId}`;
  const clean = raw.replace(/[^a-zA-Z0-9_.-]/g, '_');
  if (clean === raw && clean.length <= MAX_NAME_LENGTH) return clean;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 12);
  return `${clean.slice(0, MAX_NAME_LENGTH - hash.length - 1)}-${hash}`;
}

/** The argument list of `<runtimeBin> run …` for one session. Throws on an unmountable path. */
export function dockerRunArgs(
  ctx: ContainerStartContext,
  options: Pick<DockerDriverOptions, 'image' | 'extraArgs' | 'env'>,
): string[] {
  const hostDir = resolve(ctx.sessionDir);
  if (hostDir.includes(':') || hostDir.includes(',')) {
    throw new Error(`session folder ${hostDir} cannot be mounted with -v (contains ':' or ',')`);
  }
  const inContainer = sessionEnv({
    ...ctx,
    sessionDir: WORKSPACE,
    inboundDbPath: `${WORKSPACE}/inbound.db`,
    outboundDbPath: `${WORKSPACE}/outbound.db`,
    heartbeatPath: `${WORKSPACE}/.heartbeat`,
  });
  const userEnv = Object.entries(options.env ?? {}).filter(([key]) => !(key in inContainer));
  return [
    'run',
    '--rm',
    '-i',
    '--name',
    containerName(ctx.agentGroupId, ctx.sessionId),
    '-v',
    `${hostDir}:${WORKSPACE}`,
    ...Object.entries(inContainer).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
    ...userEnv.flatMap(([key, value]) => ['-e', `${key}=${value}`]),
    ...(options.extraArgs ?? []),
    options.image,
  ];
}

export function dockerDriver(options: DockerDriverOptions): ChildContainerDriver {
  if (typeof options.image !== 'string' || options.image === '') throw new Error('dockerDriver: image is required');
  const bin = options.runtimeBin ?? 'docker';

  return {
    async start(ctx) {
      const args = dockerRunArgs(ctx, options);
      const name = containerName(ctx.agentGroupId, ctx.sessionId);
      const info: ContainerLogInfo = { stream: 'driver', sessionId: ctx.sessionId, agentGroupId: ctx.agentGroupId };
      /** Runs `<bin> <args>`, forwarding its output; resolves its exit code (null when it could not run). */
      const runtime = (subArgs: string[]): Promise<number | null> =>
        new Promise((done) => {
          const child = spawn(bin, subArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
          for (const stream of [child.stdout, child.stderr]) {
            createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) =>
              emitLog(options.log, `[${bin} ${subArgs.join(' ')}] ${line}`, info),
            );
          }
          child.once('error', (error) => {
            emitLog(options.log, `[${bin} ${subArgs.join(' ')}] ${error.message}`, info);
            done(null);
          });
          child.once('close', (code) => done(code));
        });

      return spawnChild({
        command: bin,
        args,
        env: process.env,
        label: `container ${name}`,
        sessionId: ctx.sessionId,
        agentGroupId: ctx.agentGroupId,
        log: options.log,
        killAfterMs: options.killAfterMs,
        terminate: (child) => {
          void runtime(['stop', name]).then((code) => {
            // The container may not exist yet (still being created): the client proxies SIGTERM.
            if (code !== 0 && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          });
        },
        forceKill: (child) => {
          void runtime(['kill', name]);
          child.kill('SIGKILL');
        },
      });
    },
  };
}
