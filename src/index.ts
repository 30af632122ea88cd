/**
 * session-actors: chat-agent sessions as XState actors over a NanoClaw-compatible data directory.
 *
 * The package's main entry. Invariants (test/api/exports.test.ts, test/package/pack.test.ts):
 * 1. Every named type that appears in the signature of an export is itself exported from an entry
 *    point (`.`, `./machines`, `./testing`).
 * 2. The declarations reachable from here import no module outside the package's own
 *    dependencies and Node's built-ins (no `better-sqlite3` types: they are a dev dependency).
 */

export { createRuntime, Runtime } from './runtime/runtime.js';
export type { RuntimeOptions, ResolveResult, SessionView } from './runtime/runtime.js';
export type { JournalTransition, JournalDelivery } from './runtime/session-journal.js';
export type { RuntimeLimits } from './runtime/settings.js';
/** Row counts of one session, as `runtime.messageCounts(id)` returns them. */
export type { MessageCounts } from './runtime/types.js';
export type {
  ChannelAdapter,
  ContainerStatus,
  InboundMessage,
  Logger,
  OutboundDelivery,
  OutboundDirectMessage,
  RuntimeEvents,
  SessionInfo,
  SessionMode,
} from './runtime/types.js';
export { RuntimeError, ERROR_CODES, isRuntimeError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { systemClock, randomIds, sequentialIds } from './runtime/clock.js';
export type { Clock, IdSource } from './runtime/clock.js';
export type { ContainerDriver, ContainerHandle, ContainerStartContext, ContainerExitInfo } from './container/driver.js';
export { consoleAdapter } from './delivery/console-adapter.js';
export { createPaths } from './files/paths.js';
export type { SessionPaths } from './files/paths.js';
export { isSafeSegment, assertSafeSegment } from './files/segment.js';
export type { SegmentRole } from './files/segment.js';
export { sessionMachine, registryMachine } from '../machines/index.js';
export { processDriver, sessionEnv } from './container/process-driver.js';
export type {
  ChildContainerDriver,
  ChildContainerHandle,
  ContainerLog,
  ContainerLogInfo,
  LogStream,
  ProcessDriverOptions,
} from './container/process-driver.js';
export { dockerDriver, dockerRunArgs } from './container/docker-driver.js';
export type { DockerDriverOptions } from './container/docker-driver.js';
export { replayLog } from './eventlog/replay.js';
export type {
  ReplayOptions,
  ReplayResult,
  Divergence,
  ReplayCommit,
  ReplaySessionSnapshot,
  ReplayStep,
} from './eventlog/replay.js';
export { formatWhatIf } from './eventlog/what-if.js';
export type { Departure, WhatIfReport } from './eventlog/what-if.js';
export { diffLogs, DIFF_IGNORED } from './eventlog/diff-logs.js';
export type { DiffLogsOptions, LogDiff } from './eventlog/diff-logs.js';
export { buildReplayTimeline } from './eventlog/replay-timeline.js';
export type {
  ReplaySessionView,
  ReplayTimeline,
  ReplayTimelineChange,
  ReplayTimelineOptions,
  ReplayTimelineRecord,
  ReplayTimelineSession,
} from './eventlog/replay-timeline.js';
export { describeRecord, formatDivergence, formatEntry, summarizeTransitions } from './eventlog/timeline.js';
export type { DescribeContext, TimelineEntry } from './eventlog/timeline.js';
export { digestDataDir } from './eventlog/digest.js';
export type { LogHeader, LogRecord, LogSettings, Transition } from './eventlog/format.js';
export { readLog } from './eventlog/read-log.js';
export type { EventLog, LogLine, LogSource } from './eventlog/read-log.js';
export { toMermaid, toJSON, toSVG, renderSVG, layoutStatechart } from './viz/index.js';
export type {
  MachineJSON,
  StateJSON,
  TransitionJSON,
  TransitionInfo,
  TransitionKind,
  StatechartLayout,
  PlacedState,
  PlacedEdge,
  StateRow,
  InitialMarker,
  Box,
} from './viz/index.js';
export { startDashboard, runtimeSource, replaySource, rowMatcher } from './dashboard/index.js';
export type {
  Dashboard,
  DashboardOptions,
  DescribableRuntime,
  RuntimeSourceOptions,
  ReplaySourceOptions,
  DashboardSource,
  DetailDelivery,
  DetailTransition,
  ReplayAccess,
  ReplayDivergence,
  ReplayRecord,
  SeekKind,
  SessionDetail,
  SessionPage,
  SessionQuery,
  SessionRow,
} from './dashboard/index.js';
export type { SessionEvent, SessionEmitted, RegistryEvent, RegistryEmitted } from '../machines/index.js';
