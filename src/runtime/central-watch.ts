/**
 * What a read-only observer sees of another process's runtime: it polls the central DB every
 * `pollMs` on the injected clock and reports sessions that appeared, closed or changed container
 * status, so a dashboard can follow a live orchestrator without touching it.
 *
 * Invariants (guarded by test/runtime/read-only.test.ts):
 * 1. Reads only, through a read-only connection; a poll re-reads the `sessions` table only when
 *    SQLite's `data_version` says another connection committed since the last poll.
 * 2. Each change is reported once, in the order of the rows' creation.
 */
import { listSessions, type SessionRow } from '../store/central.js';
import type { ContainerStatus, Db } from '../store/session-db.js';
import type { Clock } from './clock.js';

export type CentralChange =
  | { type: 'created'; row: SessionRow }
  | { type: 'closed'; row: SessionRow }
  | { type: 'status'; row: SessionRow; from: ContainerStatus; to: ContainerStatus };

interface Seen {
  status: string;
  containerStatus: ContainerStatus;
}

export class CentralWatch {
  private readonly seen = new Map<string, Seen>();
  private version = -1;
  private timer: unknown;
  private stopped = false;

  constructor(
    private readonly central: Db,
    private readonly clock: Clock,
    private readonly pollMs: number,
    private readonly onChange: (change: CentralChange) => void,
    private readonly onError: (error: unknown) => void,
  ) {
    this.scan(false);
    this.schedule();
  }

  /** Reads the central DB now; reports what changed since the last read. */
  poll(): void {
    if (this.stopped) return;
    try {
      this.scan(true);
    } catch (error) {
      this.onError(error);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.poll();
      this.schedule();
    }, this.pollMs);
  }

  private scan(report: boolean): void {
    const version = this.central.pragma('data_version', { simple: true }) as number;
    if (version === this.version) return;
    this.version = version;
    for (const row of listSessions(this.central)) {
      const status = row.status ?? 'active';
      const before = this.seen.get(row.id);
      this.seen.set(row.id, { status, containerStatus: row.container_status });
      if (!report) continue;
      if (before === undefined) {
        this.onChange({ type: 'created', row });
        if (status === 'closed') this.onChange({ type: 'closed', row });
        continue;
      }
      if (before.containerStatus !== row.container_status) {
        this.onChange({ type: 'status', row, from: before.containerStatus, to: row.container_status });
      }
      if (before.status !== 'closed' && status === 'closed') this.onChange({ type: 'closed', row });
    }
  }
}
