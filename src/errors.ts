/**
 * The one error type every public method rejects with.
 *
 * `code` is stable and meant for programs; `message` is for people and may change.
 * SQLite failures are wrapped as `STORAGE` with the driver's error as `cause`.
 */
export const ERROR_CODES = [
  'INVALID_ID',
  'INVALID_INPUT',
  'UNKNOWN_SESSION',
  'UNKNOWN_AGENT_GROUP',
  'SESSION_CLOSED',
  'CONTAINER_RUNNING',
  'TOO_LARGE',
  'RUNTIME_CLOSED',
  'STORAGE',
  'DATA_DIR_LOCKED',
  'READ_ONLY',
  'BUSY',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isRuntimeError(value: unknown, code?: ErrorCode): value is RuntimeError {
  return value instanceof RuntimeError && (code === undefined || value.code === code);
}

/** Wraps anything thrown by SQLite or the file system, keeping RuntimeErrors as they are. */
export function toStorageError(error: unknown, what: string): RuntimeError {
  if (error instanceof RuntimeError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new RuntimeError('STORAGE', `${what}: ${detail}`, { cause: error });
}
