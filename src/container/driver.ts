/**
 * The container boundary (API.md "Drivers and channels"). A driver starts one container for a
 * session; the handle stops it and reports its exit exactly once.
 */
export interface ContainerStartContext {
  sessionId: string;
  agentGroupId: string;
  sessionDir: string;
  inboundDbPath: string;
  outboundDbPath: string;
  heartbeatPath: string;
}

export interface ContainerExitInfo {
  code: number | null;
  signal: string | null;
}

export interface ContainerHandle {
  /** Asks the container to stop; resolves once it has exited. */
  stop(reason: string): Promise<void>;
  /** Registers `cb` for the container's exit; called once, also when registered after the exit. */
  onExit(cb: (info: ContainerExitInfo) => void): void;
}

export interface ContainerDriver {
  start(ctx: ContainerStartContext): Promise<ContainerHandle>;
}
