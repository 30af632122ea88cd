import type {
  ContainerDriver,
  ContainerExitInfo,
  ContainerHandle,
  ContainerStartContext,
} from '../../src/container/driver.js';

/** A scripted container: it never touches the session folder; the test decides when it exits. */
export class FakeContainer implements ContainerHandle {
  private exitInfo: ContainerExitInfo | undefined;
  private readonly listeners: ((info: ContainerExitInfo) => void)[] = [];
  readonly stopReasons: string[] = [];

  constructor(readonly ctx: ContainerStartContext) {}

  async stop(reason: string): Promise<void> {
    this.stopReasons.push(reason);
    this.exit({ code: 0, signal: null });
  }

  onExit(cb: (info: ContainerExitInfo) => void): void {
    if (this.exitInfo !== undefined) cb(this.exitInfo);
    else this.listeners.push(cb);
  }

  exit(info: ContainerExitInfo): void {
    if (this.exitInfo !== undefined) return;
    this.exitInfo = info;
    for (const cb of this.listeners.splice(0)) cb(info);
  }

  get exited(): boolean {
    return this.exitInfo !== undefined;
  }
}

export function fakeDriver(options: { failStart?: boolean } = {}): ContainerDriver & { started: FakeContainer[] } {
  const started: FakeContainer[] = [];
  return {
    started,
    async start(ctx) {
      if (options.failStart === true) throw new Error('no container for you');
      const c = new FakeContainer(ctx);
      started.push(c);
      return c;
    },
  };
}
