/**
 * A byte queue between a socket and a slow consumer (the blob writer). The producer pushes
 * fragments as they arrive; `bytes` tells it when to pause the socket; the consumer takes
 * everything queued at once (up to `maxPull` bytes, handed on fragment by fragment) and
 * `onDrained` fires when the queue falls under the low-water mark so the socket can be resumed.
 */
export class ChunkQueue implements AsyncIterable<Buffer> {
  private items: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly lowWater: number,
    private readonly onDrained: () => void,
    private readonly maxPull = 4 * 1024 * 1024,
  ) {}

  get bytes(): number {
    return this.queued;
  }

  get finished(): boolean {
    return this.ended || this.error !== null;
  }

  push(chunk: Buffer): void {
    if (this.finished) return;
    this.items.push(chunk);
    this.queued += chunk.length;
    this.signal();
  }

  end(): void {
    this.ended = true;
    this.signal();
  }

  /** The consumer's loop throws this: the blob writer then deletes its temporary file. */
  fail(err: Error): void {
    if (this.ended) return;
    this.error = err;
    this.items = [];
    this.queued = 0;
    this.signal();
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      if (this.error) throw this.error;
      if (this.items.length > 0) {
        let take = 0;
        let n = 0;
        while (n < this.items.length && (n === 0 || take + this.items[n]!.length <= this.maxPull)) take += this.items[n++]!.length;
        const batch = this.items.splice(0, n);
        this.queued -= take;
        if (this.queued < this.lowWater) this.onDrained();
        // One by one, as they arrived: the blob writer gathers them (writev), a join would copy each byte.
        for (const item of batch) yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
