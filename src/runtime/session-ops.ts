/**
 * The session mailbox's operations and the batch executor, gathered for the modules that use them
 * (the commit worker, replay). Each operation lives in `src/runtime/ops/`.
 */
export { executeBatch, countMessages } from './ops/batch.js';
export { liveOutside, scanOutbound, SCAN_BUDGET } from './ops/outbound-scan.js';
export type {
  Ack,
  BatchEnv,
  ContainerState,
  OutboundRow,
  OutboundSnapshot,
  Outside,
  PollLimits,
  PollResult,
  RetryPolicy,
  ScannedRow,
  ScanQuery,
  SessionOp,
  SweepResult,
} from './ops/types.js';
export { DEFAULT_POLL_LIMITS } from './ops/types.js';
export type { MessageCounts } from './types.js';
