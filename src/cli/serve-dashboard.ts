/**
 * What every command that serves the dashboard shares: the `--port` option, printing the URL, and
 * serving until the process is interrupted (Ctrl-C or SIGTERM), then closing cleanly.
 *
 * Invariants (test/dashboard/cli.test.ts):
 * 1. `--port N` takes 0 (a free port) to 65535; anything else is a usage error (exit 2).
 * 2. The URL is printed on its own line, `dashboard: <url>`, before the command waits.
 * 3. On SIGINT or SIGTERM the command closes the dashboard (and what it served) and exits 0; the
 *    signal handlers are removed again.
 */
import { startDashboard, type Dashboard, type DashboardOptions } from '../dashboard/server.js';
import type { DescribableRuntime } from '../dashboard/runtime-source.js';
import type { DashboardSource } from '../dashboard/source.js';
import { UsageError, type StringOption } from './command.js';
import type { CliIO } from './io.js';

/** The `--port` option of every command that serves the dashboard. */
export const PORT_OPTION: StringOption = {
  type: 'string',
  value: 'N',
  description: 'port of the dashboard (default 0: a free port)',
};

/** `--port`'s value as a port number (0 when absent). */
export function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) {
    throw new UsageError(`--port must be a number from 0 to 65535, got "${value}"`);
  }
  return Number(value);
}

/** Resolves with the name of the first SIGINT or SIGTERM the process receives. */
export function untilInterrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
    const handler = (signal: NodeJS.Signals) => {
      for (const s of signals) process.off(s, handler);
      resolve(signal);
    };
    for (const s of signals) process.on(s, handler);
  });
}

/** Starts the dashboard and prints its URL. */
export async function openDashboard(
  target: DashboardSource | DescribableRuntime,
  options: DashboardOptions,
  io: CliIO,
): Promise<Dashboard> {
  const dashboard = await startDashboard(target, options);
  io.stdout.write(`dashboard: ${dashboard.url}\n`);
  return dashboard;
}
