/**
 * `session-actors/testing`: a test kit for orchestrators built on session-actors.
 *
 * `createTestRuntime()` gives a runtime on a simulated clock with sequential ids, a temporary data
 * directory, recording channel adapters and an in-process fake container that writes the session
 * folder as a real one does; `turn` scripts what that container does with each message, and the
 * test's own hand can make it send, declare a long tool, crash, hang, be killed or exit.
 * `settle()` and `clock.advance(ms)` wait for the runtime instead of sleeping; `record(event)`
 * keeps what it emitted; `reopen()` restarts it on the same data directory.
 */
export { createTestRuntime, TEST_START } from './create-test-runtime.js';
export type { EventPayload, TestRuntime, TestRuntimeOptions } from './create-test-runtime.js';
export { TestClock } from './test-clock.js';
export { recordingChannels } from './recording-channels.js';
export type { FailedDelivery, RecordedChannel, RecordingChannels } from './recording-channels.js';
export { fakeContainerDriver } from './fake-driver.js';
export type { FakeContainerDriver, FakeDriverOptions } from './fake-driver.js';
export { FakeContainer } from './fake-container.js';
export type { FakeContainerOptions, FakeContainerState, FakeExitOptions, FakeSend } from './fake-container.js';
export { turn, echoContent } from './fake-agent.js';
export type { Address, FakeAgentScript, FakeMessage, FakeReply, FakeTurn } from './fake-agent.js';
