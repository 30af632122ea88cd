#!/usr/bin/env node
/**
 * Entry point of the reference container agent (see ./agent.ts for what it does).
 *
 *   SESSION_DIR=/path/to/session node dist/src/container/agent/main.js
 *
 * Environment: SESSION_DIR (required); INBOUND_DB, OUTBOUND_DB, HEARTBEAT_PATH (default to
 * inbound.db, outbound.db and .heartbeat in SESSION_DIR); AGENT_POLL_MS (200: the longest wait
 * between polls, shorter when the watch on the folder of inbound.db sees it change);
 * AGENT_IDLE_EXIT_MS (30000, 0 = never); SESSION_ID, AGENT_GROUP_ID (shown in logs).
 *
 * Exit codes:
 * 1. 0 after an idle exit, or promptly after SIGTERM/SIGINT (test/container/agent.test.ts,
 *    "exits 0 when idle" and "stop() sends SIGTERM …").
 * 2. 1 when the agent crashed, 2 when the configuration is unusable.
 */
import { configFromEnv, runAgent, type AgentConfig } from './agent.js';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

let config: AgentConfig;
try {
  config = configFromEnv(process.env);
} catch (error) {
  process.stderr.write(`agent: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}

const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());
process.once('SIGINT', () => stop.abort());

runAgent(config, { log, signal: stop.signal }).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`agent crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
