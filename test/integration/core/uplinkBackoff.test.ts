import { createServer } from 'node:net';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { MqttUplinkDestination } from '../../../core/forward/mqttUplink.ts';
import type { LinkState, ReconnectPolicy } from '../../../core/forward/backoff.ts';
import { ProvinceLink } from '../../../core/mqtt/provinceLink.ts';
import { startProvinceBroker } from '../../sim/provinceBroker.ts';
import { capturingLogger } from '../his/logCapture.ts';
import { freePort } from '../../helpers/ports.ts';
import { waitFor } from '../../helpers/wait.ts';

const box = { id: 'box-7', facility: 'bv-test', timezone: 'Asia/Ho_Chi_Minh' };
/** The production pacing (2 s doubling to 5 min, a summary every 10 min) scaled down 20 and 400 times. */
const fast: ReconnectPolicy = { initialMs: 100, maxMs: 1_600, jitter: 0.5, stableMs: 30_000, summaryEveryMs: 1_500 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** When each failed attempt was seen (the link's attempt count, polled every 2 ms). */
function recordFailures(state: () => LinkState | null): { times: number[]; done: () => void } {
  const times: number[] = [];
  let seen = 0;
  const t = setInterval(() => {
    const n = state()?.attempts ?? 0;
    for (; seen < n; seen++) times.push(Date.now());
  }, 2);
  return { times, done: () => clearInterval(t) };
}

const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: string });

describe('province uplink reconnects with backoff against a closed port, then against a real broker', () => {
  it('mqtt-uplink: growing intervals, one warning and a few summaries instead of a line per retry, "connected again" when the broker is up, nothing left after stop()', async () => {
    const port = await freePort(); // nothing listens here: ECONNREFUSED
    const { log, lines } = capturingLogger();
    const uplink = new MqttUplinkDestination('province', { url: `mqtt://127.0.0.1:${port}`, topicRoot: 'prov', ackTimeoutSeconds: 1 }, log, box, fast);
    const failures = recordFailures(() => uplink.linkState);
    const started = Date.now();
    await uplink.start();
    cleanup.push(async () => void (await uplink.stop()));
    await sleep(5_000);
    failures.done();

    const logged = parse(lines);
    expect(logged.filter((l) => l.level >= 40).length).toBe(logged.length);
    expect(logged[0]).toMatchObject({
      level: 40,
      err: expect.stringMatching(/ECONNREFUSED/),
      msg: expect.stringMatching(/^uplink unreachable: .*ECONNREFUSED.*; retrying with backoff up to every 2 s, a summary every 2 s until it is back$/),
    });
    const summaries = logged.slice(1);
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.length).toBeLessThanOrEqual(3); // one per 1.5 s at most, over 5 s
    for (const s of summaries) expect(s.msg).toMatch(/^uplink still unreachable for \d+ s, \d+ attempts, last error .*ECONNREFUSED.*, next try in \d+ (ms|s)$/);

    const gaps = failures.times.slice(1).map((t, i) => t - failures.times[i]!);
    expect(failures.times.length).toBeGreaterThanOrEqual(5);
    expect(failures.times.length).toBeLessThanOrEqual(9); // a fixed 100 ms period would be 50
    for (const [i, gap] of gaps.entries()) {
      const exp = Math.min(fast.maxMs, fast.initialMs * 2 ** i);
      expect(gap, `gap ${i + 1} of ${gaps.join(', ')}`).toBeGreaterThanOrEqual(exp / 2 - 30); // failures are seen by polling: a late look shortens the next gap
      expect(gap, `gap ${i + 1} of ${gaps.join(', ')}`).toBeLessThanOrEqual(exp + 300);
    }
    expect(gaps[3]!).toBeGreaterThan(gaps[0]!);

    // What the outbox (console: Destinations, "Last error") shows meanwhile.
    const outcome = await uplink.deliver(
      {
        outboxId: 1,
        journalId: 1,
        destination: 'province',
        orderKey: 'x',
        source: 'x',
        stream: 'device.json',
        kind: 'k',
        idempotencyKey: 'k1',
        attempts: 0,
        raw: null,
        parsed: {},
        blob: null,
        blobPath: null,
        receivedAt: new Date().toISOString(),
        meta: {},
      },
      new AbortController().signal,
    );
    expect(outcome).toMatchObject({
      result: 'retry',
      reason: expect.stringMatching(
        new RegExp(`^not connected to mqtt://127\\.0\\.0\\.1:${port} \\(unreachable for \\d+ s, \\d+ attempts, last error .*ECONNREFUSED`),
      ),
    });

    // The province is back on that port: the next attempt connects and says so once.
    const broker = await startProvinceBroker({ port });
    cleanup.push(() => broker.stop());
    await waitFor(() => uplink.linkState?.state === 'connected', 'the uplink to reconnect', 5_000);
    const back = parse(lines).at(-1)!;
    expect(back).toMatchObject({ level: 30, msg: expect.stringMatching(/^uplink connected again after \d s$/), attempts: expect.any(Number) });
    expect(Date.now() - started).toBeGreaterThan(5_000);

    // stop() while a retry is pending: no attempt reaches the port afterwards.
    await broker.stop();
    cleanup.pop();
    await waitFor(() => uplink.linkState?.state === 'unreachable', 'the uplink to notice the broker is gone', 5_000);
    await uplink.stop();
    expect(uplink.linkState).toBeNull();
    let dialled = 0;
    const listener = createServer((s) => {
      dialled++;
      s.destroy();
    });
    await new Promise<void>((r) => listener.listen(port, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => listener.close(() => r())));
    await sleep(2 * fast.maxMs);
    expect(dialled).toBe(0);
  });

  it('province link: the same pacing and lines, and "online" state again once the broker is back', async () => {
    const port = await freePort();
    const { log, lines } = capturingLogger();
    const link = new ProvinceLink(
      { enabled: true, url: `mqtt://127.0.0.1:${port}`, topicRoot: 'prov', healthIntervalSeconds: 60 },
      { ...box, dataDir: '/nonexistent' },
      log,
      () => ({ ok: true }),
      fast,
    );
    link.start();
    cleanup.push(() => link.stop());
    await sleep(3_000);
    const logged = parse(lines);
    expect(logged[0]!.msg).toMatch(/^province broker unreachable: .*ECONNREFUSED/);
    expect(logged.length).toBeLessThanOrEqual(3); // before: two lines per attempt
    const attempts = link.linkState!.attempts;
    expect(attempts).toBeGreaterThanOrEqual(4);
    expect(attempts).toBeLessThanOrEqual(8);

    const broker = await startProvinceBroker({ port });
    cleanup.push(() => broker.stop());
    await waitFor(() => link.connected, 'the province link to reconnect', 5_000);
    expect(parse(lines).at(-1)!.msg).toMatch(/^province broker connected again after \d s$/);
    const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`);
    const state = new Promise<string>((r) => watcher.on('message', (_t, p) => r(p.toString())));
    await watcher.subscribeAsync('prov/v1/bv-test/box-7/state');
    expect(JSON.parse(await state)).toMatchObject({ state: 'online' });
    await watcher.endAsync();
    await link.stop(); // before the broker: its "offline" publish is answered at once
  });
});
