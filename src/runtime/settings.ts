/**
 * The options of `createRuntime` and the settings they resolve to: one place for every default.
 */
import type { InspectionEvent, Observer } from 'xstate';
import { CronExpressionParser } from 'cron-parser';
import type { ContainerDriver } from '../container/driver.js';
import { RuntimeError } from '../errors.js';
import type { Clock, IdSource } from './clock.js';
import { defaultThreadCount } from './commit-threads.js';
import type { ChannelAdapter, Logger } from './types.js';

export interface RuntimeLimits {
  /** Largest decoded inbound attachment, in bytes (default 25 MiB). */
  maxAttachmentBytes?: number;
  /** Largest inbound message content, in bytes (default 1 MiB). */
  maxMessageBytes?: number;
  /** Largest `messages_out.content` the host reads from a container, in bytes (default 4 MiB). */
  maxOutboundBytes?: number;
}

export interface RuntimeOptions {
  /** Root of the data directory (FORMAT.md). */
  dataDir: string;
  /** `'process'` (the bundled reference agent as a child process), `'none'`, or a driver. */
  driver?: ContainerDriver | 'process' | 'none';
  /** Adapters by channel type; without it every channel prints to the console. */
  channels?: Record<string, ChannelAdapter>;
  /** Every timestamp and timer (XState's `SimulatedClock` fits). */
  clock?: Clock;
  /** Every id the runtime mints. */
  ids?: IdSource;
  /** Path of a JSONL event log to record, or false. */
  eventLog?: string | false;
  /** XState inspection observer for the whole actor system. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  logger?: Logger;
  /** Wake the container when a `trigger: 1` message is written and none runs (default true). */
  autoWake?: boolean;
  /** How often a running session reads `outbound.db`, in ms (default 250). */
  pollMs?: number;
  /** Stop a container that has been `idle` this long, in ms (default 600 000). */
  idleStopMs?: number;
  /** Drop a stopped, quiet session actor from memory after this long, in ms (default 60 000). */
  passivateMs?: number;
  limits?: RuntimeLimits;
  /** Open an observer: reads only, never changes the data directory nor touches a container. */
  readOnly?: boolean;
  /** Most `messages_out` rows one poll reads (default 100). */
  maxPollRows?: number;
  /** Period of the sweep that wakes due sessions and delivers stranded output, in ms (default 60 000). */
  sweepMs?: number;
  /** Queued operations per session before writes reject `BUSY` (default 10 000). */
  maxQueuedPerSession?: number;
  /** Time zone recurring messages' cron expressions are read in (default `UTC`). */
  timezone?: string;
  /** Most operations one commit takes from a session's queue (group-commit cap, default 1 000). */
  maxBatch?: number;
  /**
   * Batches committed at once, each on a worker thread (default twice the cores, 8 to 16): commits
   * of different sessions overlap their syncs to disk, and none blocks the event loop.
   */
  commitThreads?: number;
  /** Delivery attempts per outbound message before it is recorded `failed` (default 3). */
  deliveryAttempts?: number;
  /** Backoff before the second delivery attempt, doubling after each further failure (default 1 000 ms). */
  deliveryBackoffMs?: number;
  /**
   * A message a dead container had claimed is retried after `retryBackoffMs × 2^(tries − 1)`,
   * `tries` counting this failure: 5 s, 10 s, 20 s… by default (5 000 ms).
   */
  retryBackoffMs?: number;
  /** Tries before a claimed message is marked `failed` (default 5). */
  maxTries?: number;
  /** A running container whose heartbeat has not moved for this long is killed (default 30 min). */
  heartbeatCeilingMs?: number;
  /** A container that claimed work and whose heartbeat has not moved for this long is killed (default 60 s). */
  claimSilenceMs?: number;
}

export interface Settings {
  readOnly: boolean;
  autoWake: boolean;
  pollMs: number;
  idleStopMs: number;
  passivateMs: number;
  maxAttachmentBytes: number;
  maxMessageBytes: number;
  maxOutboundBytes: number;
  maxPollRows: number;
  sweepMs: number;
  maxQueuedPerSession: number;
  timezone: string;
  maxBatch: number;
  commitThreads: number;
  deliveryAttempts: number;
  deliveryBackoffMs: number;
  retryBackoffMs: number;
  maxTries: number;
  heartbeatCeilingMs: number;
  claimSilenceMs: number;
}

const MiB = 1024 * 1024;

/** A time zone cron expressions can be read in, or INVALID_INPUT (an unknown one would drop every series). */
function checkTimezone(timezone: string): string {
  try {
    CronExpressionParser.parse('* * * * *', { tz: timezone }).next();
    return timezone;
  } catch (error) {
    throw new RuntimeError('INVALID_INPUT', `timezone ${JSON.stringify(timezone)} is not a known time zone`, {
      cause: error,
    });
  }
}

export function resolveSettings(options: RuntimeOptions): Settings {
  const readOnly = options.readOnly === true;
  return {
    readOnly,
    autoWake: !readOnly && (options.autoWake ?? options.driver !== 'none'),
    pollMs: options.pollMs ?? 250,
    idleStopMs: options.idleStopMs ?? 600_000,
    passivateMs: options.passivateMs ?? 60_000,
    maxAttachmentBytes: options.limits?.maxAttachmentBytes ?? 25 * MiB,
    maxMessageBytes: options.limits?.maxMessageBytes ?? 1 * MiB,
    maxOutboundBytes: options.limits?.maxOutboundBytes ?? 4 * MiB,
    maxPollRows: options.maxPollRows ?? 100,
    sweepMs: options.sweepMs ?? 60_000,
    maxQueuedPerSession: options.maxQueuedPerSession ?? 10_000,
    timezone: checkTimezone(options.timezone ?? 'UTC'),
    maxBatch: options.maxBatch ?? 1000,
    commitThreads: options.commitThreads ?? defaultThreadCount(),
    deliveryAttempts: options.deliveryAttempts ?? 3,
    deliveryBackoffMs: options.deliveryBackoffMs ?? 1000,
    retryBackoffMs: options.retryBackoffMs ?? 5000,
    maxTries: options.maxTries ?? 5,
    heartbeatCeilingMs: options.heartbeatCeilingMs ?? 30 * 60_000,
    claimSilenceMs: options.claimSilenceMs ?? 60_000,
  };
}
