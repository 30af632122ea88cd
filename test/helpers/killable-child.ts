/**
 * A fixture script run as a real child process (`node --import tsx`), reporting one JSON object
 * per stdout line, and SIGKILLed at a chosen moment: after its n-th acknowledgement, or a delay
 * after its `ready` line or its first acknowledgement. Only complete lines count: a line cut short by the kill is dropped, so what
 * the parent saw is a subset of what the child acknowledged, never more.
 */
import { spawn } from 'node:child_process';

export type ChildLine = Record<string, unknown> & { t: string };

/** When to SIGKILL: after the n-th `ack` line, or a number of real milliseconds after `ready` or the first `ack`. */
export type KillAt = { afterAcks: number } | { afterReadyMs: number } | { afterFirstAckMs: number };

export interface KilledChild {
  lines: ChildLine[];
  /** The signal that ended the child (`SIGKILL` when we killed it), or null. */
  signal: NodeJS.Signals | null;
  code: number | null;
  /** True when the child was still running when the kill was sent. */
  killedLive: boolean;
  stderr: string;
}

/**
 * Runs `script` with `args` and SIGKILLs it at `killAt`. The child must print `{"t":"ready"}`
 * once it has set up and `{"t":"ack",...}` per acknowledged operation. A child that reaches
 * neither condition within `timeoutMs` is killed too (its lines tell what happened).
 */
export function runAndKill(script: string, args: string[], killAt: KillAt, timeoutMs = 60_000): Promise<KilledChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: ChildLine[] = [];
  let pending = '';
  let acks = 0;
  let stderr = '';
  let killedLive = false;
  let exited = false;
  const timers: NodeJS.Timeout[] = [];
  const kill = () => {
    if (exited || child.signalCode !== null || child.exitCode !== null) return;
    killedLive = child.kill('SIGKILL');
  };
  timers.push(setTimeout(kill, timeoutMs));
  const onLine = (text: string) => {
    let line: ChildLine;
    try {
      line = JSON.parse(text) as ChildLine;
    } catch {
      // Not a report of the fixture's (e.g. a runtime warning on stdout): not counted.
      return;
    }
    lines.push(line);
    if (line.t === 'ready' && 'afterReadyMs' in killAt) timers.push(setTimeout(kill, killAt.afterReadyMs));
    if (line.t !== 'ack') return;
    acks++;
    if ('afterAcks' in killAt && acks === killAt.afterAcks) kill();
    if ('afterFirstAckMs' in killAt && acks === 1) timers.push(setTimeout(kill, killAt.afterFirstAckMs));
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) onLine(part);
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    if (stderr.length < 20_000) stderr += chunk;
  });
  // stdin stays open: the child treats its end as "the parent is gone" and exits.
  const stdoutClosed = new Promise<void>((resolve) => child.stdout.on('close', () => resolve()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    }),
  );
  return Promise.all([exit, stdoutClosed]).then(([{ code, signal }]) => {
    for (const t of timers) clearTimeout(t);
    child.stdin.destroy();
    return { lines, signal, code, killedLive, stderr };
  });
}
