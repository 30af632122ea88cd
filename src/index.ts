/**
 * session-actors: chat-agent sessions as XState actors over a NanoClaw-compatible data directory.
 */
export { createRuntime, Runtime } from './runtime/runtime.js';
export type { RuntimeOptions, ResolveResult } from './runtime/runtime.js';
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
export { sessionMachine, registryMachine } from '../machines/index.js';
export { processDriver } from './container/process-driver.js';
export type { ProcessDriverOptions } from './container/process-driver.js';
export { dockerDriver, dockerRunArgs } from './container/docker-driver.js';
export type { DockerDriverOptions } from './container/docker-driver.js';
export { replayLog } from './eventlog/replay.js';
export type { ReplayOptions, ReplayResult, Divergence } from './eventlog/replay.js';
export { digestDataDir } from './eventlog/digest.js';
export type { LogRecord, Transition } from './eventlog/format.js';
export { toMermaid, toJSON } from './viz/index.js';
export type { MachineJSON } from './viz/index.js';
export type { SessionEvent, SessionEmitted, RegistryEvent, RegistryEmitted } from '../machines/index.js';
