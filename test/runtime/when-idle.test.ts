import { describe, expect, it } from 'vitest';
import type { ChannelAdapter } from '../../src/runtime/types.js';
import { fakeDriver } from '../helpers/fake-driver.js';
import { chat, testRuntime } from '../helpers/runtime.js';
import { useTmpDir } from '../helpers/tmp.js';

const tmp = useTmpDir();
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

async function resolveShared(rt: Awaited<ReturnType<typeof testRuntime>>['rt']) {
  return (
    await rt.resolveSession({ agentGroupId: 'ag-main', messagingGroupId: 'mg-slack', threadId: null, mode: 'shared' })
  ).session;
}

describe('whenIdle', () => {
  it('resolves once a write, the wake it causes, the start and the first poll are all done', async () => {
    const driver = fakeDriver();
    const { rt, clock } = await testRuntime(tmp(), { driver, pollMs: 1000, idleStopMs: 5000 });
    const session = await resolveShared(rt);
    void rt.writeMessage(session.id, chat('m1', 'hi'));
    await rt.whenIdle();
    expect(driver.started).toHaveLength(1);
    // The first poll found the message due and unclaimed: busy.
    expect(rt.containerStatus(session.id)).toBe('running');
    clock.increment(1000);
    await rt.whenIdle();
    expect(rt.containerStatus(session.id)).toBe('running');
    await rt.close();
  });

  it('waits for a delivery in flight', async () => {
    let release: (() => void) | undefined;
    let markCalled!: () => void;
    const called = new Promise<void>((resolve) => (markCalled = resolve));
    const slow: ChannelAdapter = {
      async deliver() {
        markCalled();
        await new Promise<void>((r) => (release = r));
        return { platformMessageId: 'p1' };
      },
    };
    const { rt } = await testRuntime(tmp(), { channels: { slack: slow } });
    const session = await resolveShared(rt);
    await rt.writeOutboundDirect(session.id, {
      id: 'd1',
      kind: 'chat',
      platformId: 'C123',
      channelType: 'slack',
      threadId: null,
      content: '{}',
    });
    let idle = false;
    const done = rt.whenIdle().then(() => (idle = true));
    await called;
    await turns(20);
    expect(idle).toBe(false);
    release?.();
    await done;
    await expect(rt.messageCounts(session.id)).resolves.toMatchObject({ delivered: 1 });
    await rt.close();
  });

  it('runs what a clock step made due: the idle timeout stops the container', async () => {
    const driver = fakeDriver();
    const { rt, clock } = await testRuntime(tmp(), { driver, pollMs: 1000, idleStopMs: 3000 });
    const session = await resolveShared(rt);
    await rt.wake(session.id);
    await rt.whenIdle();
    expect(rt.containerStatus(session.id)).toBe('idle');
    clock.increment(3000);
    await rt.whenIdle();
    expect(rt.containerStatus(session.id)).toBe('stopped');
    await rt.close();
  });
});
