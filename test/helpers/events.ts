import type { Runtime } from '../../src/runtime/runtime.js';
import type { RuntimeEvents } from '../../src/runtime/types.js';

type Payload<E extends keyof RuntimeEvents> = Parameters<RuntimeEvents[E]>[0];

/** Resolves with the first `event` whose payload satisfies `match`. */
export function nextEvent<E extends keyof RuntimeEvents>(
  rt: Runtime,
  event: E,
  match: (payload: Payload<E>) => boolean = () => true,
): Promise<Payload<E>> {
  return new Promise((resolve) => {
    const listener = (payload: Payload<E>) => {
      if (!match(payload)) return;
      rt.off(event, listener as never);
      resolve(payload);
    };
    rt.on(event, listener as never);
  });
}
