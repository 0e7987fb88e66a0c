/**
 * A byte queue between a socket and a slow consumer (the blob writer). The producer pushes
 * fragments as they arrive; `bytes` tells it when to pause the socket; the consumer takes
 * everything queued at once (up to `maxPull` bytes, handed on fragment by fragment) and
 * `onDrained` fires when the queue falls under the low-water mark so the socket can be resumed.
 */
export class ChunkQueue {
    lowWater;
    onDrained;
    maxPull;
    items = [];
    queued = 0;
    ended = false;
    error = null;
    wake = null;
    constructor(lowWater, onDrained, maxPull = 4 * 1024 * 1024) {
        this.lowWater = lowWater;
        this.onDrained = onDrained;
        this.maxPull = maxPull;
    }
    get bytes() {
        return this.queued;
    }
    get finished() {
        return this.ended || this.error !== null;
    }
    push(chunk) {
        if (this.finished)
            return;
        this.items.push(chunk);
        this.queued += chunk.length;
        this.signal();
    }
    end() {
        this.ended = true;
        this.signal();
    }
    /** The consumer's loop throws this: the blob writer then deletes its temporary file. */
    fail(err) {
        if (this.ended)
            return;
        this.error = err;
        this.items = [];
        this.queued = 0;
        this.signal();
    }
    signal() {
        const w = this.wake;
        this.wake = null;
        w?.();
    }
    async *[Symbol.asyncIterator]() {
        for (;;) {
            if (this.error)
                throw this.error;
            if (this.items.length > 0) {
                let take = 0;
                let n = 0;
                while (n < this.items.length && (n === 0 || take + this.items[n].length <= this.maxPull))
                    take += this.items[n++].length;
                const batch = this.items.splice(0, n);
                this.queued -= take;
                if (this.queued < this.lowWater)
                    this.onDrained();
                // One by one, as they arrived: the blob writer gathers them (writev), a join would copy each byte.
                for (const item of batch)
                    yield item;
                continue;
            }
            if (this.ended)
                return;
            await new Promise((resolve) => (this.wake = resolve));
        }
    }
}
