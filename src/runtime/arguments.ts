/**
 * Reading a caller's arguments. Arguments come from the caller's code and may run it: a getter or
 * a Proxy trap can throw anything. Such an exception is the caller's bad input, so it becomes
 * `INVALID_INPUT` with the original as `cause` (test/runtime/validation.test.ts "a throwing
 * getter ...") rather than escaping as a TypeError or being taken for a storage failure.
 */
import { RuntimeError } from '../errors.js';

export function readArgs<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new RuntimeError('INVALID_INPUT', `${what}: reading the argument threw: ${detail}`, { cause: error });
  }
}
