/**
 * A changed session machine for a what-if replay: the container is stopped after 100 ms of idle
 * instead of `idleStopMs`. Replay a recorded run against it to see where its behaviour departs:
 *
 *   session-actors replay test/fixtures/logs/idle-timeout.jsonl --machine examples/shorter-idle.mjs
 *
 * (test/cli/replay-what-if.test.ts runs this file.)
 */
import { sessionMachine } from 'session-actors';

export default sessionMachine.provide({ delays: { idleStopMs: 100 } });
