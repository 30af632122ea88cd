/**
 * `container.violation` events: the host refused something a container did. Each is logged at
 * `warn` and emitted once per session and kind of trouble while it lasts, so a corrupt file seen
 * by every poll is one event, not four a second (test/runtime/hostile-container.test.ts).
 */
import type { ContainerViolation } from '../files/container-violation.js';
import type { Logger } from './types.js';

export interface ViolationEvent {
  sessionId: string;
  kind: string;
  detail: string;
}

export class Violations {
  /** The last violation reported per session (kind + detail), to report a repeat once. */
  private readonly last = new Map<string, string>();

  constructor(
    private readonly logger: Logger,
    private readonly emit: (e: ViolationEvent) => void,
  ) {}

  report(sessionId: string, v: ContainerViolation, repeatable = false): void {
    const key = `${v.kind}\u0000${v.detail}`;
    if (!repeatable && this.last.get(sessionId) === key) return;
    this.last.set(sessionId, key);
    this.logger.warn({ sessionId, kind: v.kind, detail: v.detail, path: v.path }, 'container violation');
    this.emit({ sessionId, kind: v.kind, detail: v.detail });
  }

  /** The trouble is over (e.g. a poll read the files fine): the next one is reported again. */
  clear(sessionId: string): void {
    this.last.delete(sessionId);
  }
}
