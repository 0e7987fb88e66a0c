import { describe, expect, it } from 'vitest';
import { LanTopicAcl, RetainedQuota, type LanUser } from '../../../core/mqtt/lanAcl.ts';
import { PacketSizeScanner } from '../../../core/mqtt/packetSizeGuard.ts';

const root = 'edge/v1/bv-test/lab-01';
const acl = new LanTopicAcl(root);
const screen: LanUser = { username: 'call-screen-1', role: 'screen' };
const led: LanUser = { username: 'led-2', role: 'device' };
const sensor: LanUser = { username: 'sensor-account', role: 'device', device: 'spo2-3' };

describe('LanTopicAcl: subscriptions', () => {
  it('grants filters in the box tree and wildcards that cover only it', () => {
    for (const f of ['#', `${root}/#`, `${root}/queue/+/snapshot`, `${root}/state`, 'edge/+/bv-test/lab-01/#', '+/+/+/+/health', 'edge/#'])
      expect(acl.subscribeAllowed(f), f).toEqual({ ok: true });
  });

  it('refuses another facility or box, system topics and filters above the root', () => {
    for (const f of [
      '$SYS/#',
      '$SYS/+/new/clients',
      'edge/v1/other-facility/#',
      'edge/v1/bv-test/lab-02/state',
      'other/#',
      'edge/v1',
      'edge/v1/bv-test',
      'edge/v2/bv-test/lab-01/#',
    ])
      expect(acl.subscribeAllowed(f).ok, f).toBe(false);
  });
});

describe('LanTopicAcl: publishes', () => {
  it('a screen publishes nothing', () => {
    expect(acl.publishAllowed(screen, `${root}/dev/call-screen-1/state`)).toEqual({ ok: false, reason: 'a screen user is read-only' });
  });

  it('a device publishes only under its own id, never on the box topics', () => {
    expect(acl.publishAllowed(led, `${root}/dev/led-2/state`).ok).toBe(true);
    expect(acl.publishAllowed(led, `${root}/dev/led-2/button/pressed`).ok).toBe(true);
    expect(acl.publishAllowed(sensor, `${root}/dev/spo2-3/reading`).ok).toBe(true);
    for (const t of [
      `${root}/state`,
      `${root}/health`,
      `${root}/dev/xn1/state`,
      `${root}/dev/led-20/state`,
      `${root}/dev/led-2x`,
      `${root}/queue/noi/snapshot`,
      `${root}/dev/sensor-account/x`,
      'edge/v1/bv-test/lab-02/dev/led-2/state',
      '$SYS/x',
    ]) {
      const d = acl.publishAllowed(t.includes('sensor-account') ? sensor : led, t);
      expect(d.ok, t).toBe(false);
    }
  });
});

describe('RetainedQuota', () => {
  it('bounds retained messages per user in count and bytes; replacing and deleting free room', () => {
    const q = new RetainedQuota({ maxMessages: 2, maxBytes: 100 });
    expect(q.admit('led', 'a', 10).ok).toBe(true);
    expect(q.admit('led', 'b', 10).ok).toBe(true);
    const third = q.admit('led', 'c', 10);
    expect(third.ok).toBe(false);
    expect(third).toMatchObject({ reason: expect.stringContaining('maxMessagesPerUser 2') });
    // Another user has its own quota; replacing a held topic needs no new room.
    expect(q.admit('other', 'c', 10).ok).toBe(true);
    expect(q.admit('led', 'a', 20).ok).toBe(true);
    expect(q.usage().led).toEqual({ messages: 2, bytes: 1 + 20 + 1 + 10 });
    // An empty retained payload deletes the message.
    expect(q.admit('led', 'a', 0).ok).toBe(true);
    expect(q.admit('led', 'c', 10).ok).toBe(true);
    const big = q.admit('led', 'c', 200);
    expect(big.ok).toBe(false);
    expect(big).toMatchObject({ reason: expect.stringContaining('maxBytesPerUser 100') });
    expect(q.usage().led).toEqual({ messages: 2, bytes: 22 });
  });
});

/** An MQTT PUBLISH (QoS 0) with `payloadBytes` of payload, as a client would send it. */
function publishPacket(topic: string, payloadBytes: number): Buffer {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), Buffer.from(topic), Buffer.alloc(payloadBytes, 0x61)]);
  const length: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    length.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x30, ...length]), body]);
}

describe('PacketSizeScanner', () => {
  it('passes packets within the limit, however the stream is cut', () => {
    const scanner = new PacketSizeScanner(1000);
    const stream = Buffer.concat([publishPacket('a/b', 10), publishPacket('a/b', 900), Buffer.from([0xc0, 0x00]), publishPacket('a/b', 0)]);
    for (let i = 0; i < stream.length; i += 7) expect(scanner.push(stream.subarray(i, i + 7))).toBeUndefined();
  });

  it('reports a packet over the limit from its header, before its body', () => {
    const scanner = new PacketSizeScanner(1000);
    expect(scanner.push(publishPacket('a/b', 10))).toBeUndefined();
    const big = publishPacket('a/b', 5000);
    expect(scanner.push(big.subarray(0, 3))).toBe(big.length);
  });

  it('reports a remaining length longer than four bytes as malformed', () => {
    const scanner = new PacketSizeScanner(1000);
    expect(scanner.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBeNull();
  });
});
