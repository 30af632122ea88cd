export { sessionMachine } from './session.machine.js';
export type {
  CommitInput,
  CommitOutput,
  ContainerPhase,
  ContainerStatus,
  MailboxOp,
  OpResult,
  SessionContext,
  SessionEmitted,
  SessionEvent,
  SessionInput,
  SessionMachine,
  StartOutput,
} from './session.machine.js';
export { registryMachine } from './registry.machine.js';
export type {
  RegistryContext,
  RegistryEmitted,
  RegistryEvent,
  RegistryMachine,
  ResolveOutcome,
  ResolveRequest,
  SessionMode,
} from './registry.machine.js';
