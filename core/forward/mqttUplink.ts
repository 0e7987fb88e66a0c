import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { boxTopic } from '../mqtt/topics.ts';
import { Reconnector, type LinkState, type ReconnectPolicy } from './backoff.ts';
import type { DeliveryOutcome, Destination, DestinationContext, DestinationFactory, OutboxItem } from '../contract/destination.ts';

export interface MqttUplinkConfig {
  url: string;
  username?: string;
  password?: string;
  topicRoot?: string;
  /** How long to wait for the central ingest's application-level ack. */
  ackTimeoutSeconds?: number;
}

/** What the box publishes for every uplinked item. */
export interface UplinkEnvelope {
  /** box:stream:sequence — the central ingest stores idempotently by this id. */
  id: string;
  box: string;
  facility: string;
  stream: string;
  sequence: number;
  idempotencyKey: string;
  source: string;
  kind: string;
  /** Local time with offset (the box's receive time). */
  time: string;
  schema: string;
  body: unknown;
}

/**
 * Uplink to the province's central ingest over MQTT. The outbox stays the system of record: a
 * broker PUBACK deletes nothing; an item is done only when the central ingest publishes its id
 * on `<root>/v1/<facility>/<box>/ack` ({"ids": [...]}) after storing it. No ack in time: retry
 * with the same id (the ingest drops repeats).
 */
export class MqttUplinkDestination implements Destination {
  private client: MqttClient | null = null;
  private readonly waiting = new Map<string, () => void>();
  private readonly box: NonNullable<DestinationContext['box']>;
  private readonly root: string;
  private link: Reconnector | null = null;

  constructor(
    readonly id: string,
    private readonly config: MqttUplinkConfig,
    private readonly log: Logger,
    box: DestinationContext['box'],
    /** Tests shorten the reconnect pacing (default DEFAULT_RECONNECT). */
    private readonly reconnect?: ReconnectPolicy,
  ) {
    if (!box) throw new Error('the MQTT uplink needs the box id and facility');
    this.box = box;
    this.root = config.topicRoot ?? 'edge';
  }

  private topic(...rest: string[]): string {
    return boxTopic(this.root, this.box.facility, this.box.id, ...rest);
  }

  async start(): Promise<void> {
    const client = mqtt.connect(this.config.url, {
      clientId: `${this.box.facility}-${this.box.id}-uplink`,
      username: this.config.username,
      password: this.config.password,
      clean: false, // keep the ack subscription across reconnects
      reconnectPeriod: 0, // the Reconnector paces attempts (mqtt.js's fixed period logged every 2 s)
      connectTimeout: 15_000,
    });
    const link = new Reconnector({
      what: 'uplink',
      log: this.log,
      fields: { url: this.config.url },
      policy: this.reconnect,
      // The same stores: QoS 1 publishes not yet acknowledged by the broker are resent, as mqtt.js's own reconnect does.
      attempt: () => client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore }),
    });
    link.watch(client);
    this.link = link;
    client.on('message', (topic, payload) => {
      if (topic !== this.topic('ack')) return;
      try {
        const ack = JSON.parse(payload.toString()) as { ids?: unknown };
        if (!Array.isArray(ack.ids)) return;
        for (const id of ack.ids) {
          const done = this.waiting.get(String(id));
          if (done) done();
        }
      } catch {
        this.log.warn('ignored an ack that is not JSON');
      }
    });
    client.on('connect', () => client.subscribe(this.topic('ack'), { qos: 1 }));
    this.client = client;
  }

  /** The broker connection (null before start and after stop). */
  get linkState(): LinkState | null {
    return this.link?.state ?? null;
  }

  async stop(): Promise<void> {
    this.link?.stop();
    this.link = null;
    const client = this.client;
    this.client = null;
    if (!client) return;
    await Promise.race([new Promise<void>((r) => client.end(false, {}, () => r())), new Promise<void>((r) => setTimeout(r, 3_000).unref())]);
    client.end(true);
  }

  async deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
    const client = this.client;
    if (!client?.connected) return { result: 'retry', reason: `not connected to ${this.config.url}${this.link ? ` (${this.link.describe()})` : ''}` };
    const envelope: UplinkEnvelope = {
      id: `${this.box.id}:${item.stream}:${item.journalId}`,
      box: this.box.id,
      facility: this.box.facility,
      stream: item.stream,
      sequence: item.journalId,
      idempotencyKey: item.idempotencyKey,
      source: item.source,
      kind: item.kind,
      time: item.receivedAt,
      schema: `${item.stream}/1`,
      body: item.parsed ?? (item.raw ? { base64: item.raw.toString('base64') } : null),
    };
    const acked = new Promise<DeliveryOutcome>((resolve) => {
      const timeout = setTimeout(
        () => finish({ result: 'retry', reason: `no ack from the central ingest within ${this.config.ackTimeoutSeconds ?? 30} s` }),
        (this.config.ackTimeoutSeconds ?? 30) * 1000,
      );
      const onAbort = () => finish({ result: 'retry', reason: 'aborted' });
      const finish = (outcome: DeliveryOutcome) => {
        clearTimeout(timeout);
        signal.removeEventListener('abort', onAbort);
        this.waiting.delete(envelope.id);
        resolve(outcome);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(envelope.id, () => finish({ result: 'ok', detail: 'acknowledged by the central ingest' }));
    });
    client.publish(this.topic('stream', ...item.stream.split('.')), JSON.stringify(envelope), { qos: 1 }, (err) => {
      if (err) this.waiting.get(envelope.id) && this.log.debug({ err: err.message }, 'publish failed; waiting for the ack timeout');
    });
    return acked;
  }
}

export const mqttUplinkDestinationFactory: DestinationFactory<MqttUplinkConfig> = {
  type: 'mqtt-uplink',
  create: (ctx, config) => new MqttUplinkDestination(ctx.id, config, ctx.log, ctx.box),
};
