/**
 * `fakeContainerDriver()`: a `ContainerDriver` whose containers are `FakeContainer`s running
 * in-process on the injected clock (test/testing/fake-container.test.ts).
 *
 * Invariants:
 * 1. `start` begins the container before it resolves: its first poll has run (a real container
 *    may well answer before its host has seen it start).
 * 2. Every container ever started stays in `containers`, in start order; `running(sessionId)` is
 *    the one that has not exited.
 * 3. `failStart` makes `start` reject, and nothing is started.
 * 4. `onStart` sees each container before its first poll, the folder as the container finds it;
 *    a container it breaks (`crash`, `kill`, `exitNow`) claims nothing ("onStart runs before the
 *    first poll").
 */
import type { ContainerDriver, ContainerStartContext } from '../container/driver.js';
import type { Clock } from '../runtime/clock.js';
import type { FakeAgentScript } from './fake-agent.js';
import { FakeContainer } from './fake-container.js';

export interface FakeDriverOptions {
  clock: Clock;
  /** What the agent does with each claimed message; default: echo, like the reference agent. */
  script?: FakeAgentScript;
  /** The containers' poll interval on the injected clock; default 100 ms. */
  pollMs?: number;
  /** A container exits 0 after this long without work; default 0 (never). */
  idleExitMs?: number;
  /** Refuse to start (the start rejects with this error); a function decides per start. */
  failStart?: Error | ((ctx: ContainerStartContext) => Error | undefined);
  /**
   * Called with each container as it starts, before its first poll: look at the session folder
   * as the container finds it, or break the container before it claims anything.
   */
  onStart?: (container: FakeContainer) => void;
}

export interface FakeContainerDriver extends ContainerDriver {
  start(ctx: ContainerStartContext): Promise<FakeContainer>;
  /** Every container started, in order. */
  readonly containers: readonly FakeContainer[];
  /** The container of `sessionId` that has not exited, if any. */
  running(sessionId: string): FakeContainer | undefined;
  /** Replaces the script, for containers already running too. */
  setScript(script: FakeAgentScript): void;
  /** Sets or clears the start failure. */
  setFailStart(failStart: FakeDriverOptions['failStart'] | undefined): void;
  /** Sets or clears the `onStart` hook. */
  setOnStart(onStart: FakeDriverOptions['onStart'] | undefined): void;
  /** Resolves when no exit a container took itself is still waiting to be reported. */
  quiet(): Promise<void>;
  /** Exits taken but not yet reported. */
  readonly unreportedExits: number;
}

export function fakeContainerDriver(options: FakeDriverOptions): FakeContainerDriver {
  const containers: FakeContainer[] = [];
  let script: FakeAgentScript = options.script ?? (() => undefined);
  let failStart = options.failStart;
  let onStart = options.onStart;
  let inFlight = 0;
  const waiters: (() => void)[] = [];
  const defer = (report: () => void) => {
    inFlight++;
    setImmediate(() => {
      try {
        report();
      } finally {
        inFlight--;
        if (inFlight === 0) for (const wake of waiters.splice(0)) wake();
      }
    });
  };
  return {
    containers,
    async start(ctx) {
      const refusal = typeof failStart === 'function' ? failStart(ctx) : failStart;
      if (refusal !== undefined) throw refusal;
      const container = new FakeContainer(ctx, {
        clock: options.clock,
        script: (message, c) => script(message, c),
        pollMs: options.pollMs,
        idleExitMs: options.idleExitMs,
        defer,
      });
      containers.push(container);
      onStart?.(container);
      container.begin();
      return container;
    },
    running: (sessionId) => containers.find((c) => c.sessionId === sessionId && c.state !== 'exited'),
    setScript(next) {
      script = next;
    },
    setFailStart(next) {
      failStart = next;
    },
    setOnStart(next) {
      onStart = next;
    },
    get unreportedExits() {
      return inFlight;
    },
    quiet: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}
