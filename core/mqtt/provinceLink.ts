import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/types.ts';
import { backoffDelay, DEFAULT_RECONNECT, Reconnector, type LinkState, type ReconnectPolicy } from '../forward/backoff.ts';
import { boxTopic } from './topics.ts';

type ProvinceConfig = NonNullable<AgentConfig['province']>;

/** 1 s doubling to 2 min with jitter, so 200 boxes spread out; the outage logged as the uplink's is. */
export const PROVINCE_RECONNECT: ReconnectPolicy = { ...DEFAULT_RECONNECT, initialMs: 1_000, maxMs: 120_000 };

/** Delay before the reconnect that follows `failures` failed ones. */
export function reconnectDelay(failures: number, random = Math.random): number {
  return backoffDelay(failures + 1, PROVINCE_RECONNECT, random);
}

/**
 * The box as a client of the province's broker: retained `state` with an "offline" last will,
 * retained periodic `health`. Reconnects with jittered backoff, forever.
 */
export class ProvinceLink {
  private client: MqttClient | null = null;
  private link: Reconnector | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  connected = false;

  constructor(
    private readonly config: ProvinceConfig,
    private readonly box: AgentConfig['box'],
    private readonly log: Logger,
    private readonly health: () => Record<string, unknown>,
    /** Tests shorten the reconnect pacing. */
    private readonly reconnect: ReconnectPolicy = PROVINCE_RECONNECT,
  ) {}

  private topic(...rest: string[]): string {
    return boxTopic(this.config.topicRoot, this.box.facility, this.box.id, ...rest);
  }

  /** The broker connection (null before start and after stop). */
  get linkState(): LinkState | null {
    return this.link?.state ?? null;
  }

  start(): void {
    const client = mqtt.connect(this.config.url, {
      clientId: `${this.box.facility}-${this.box.id}`,
      username: this.config.username,
      password: this.config.password,
      clean: true,
      reconnectPeriod: 0, // the Reconnector paces attempts
      connectTimeout: 15_000,
      keepalive: 30,
      will: { topic: this.topic('state'), payload: Buffer.from(JSON.stringify({ state: 'offline', reason: 'connection lost' })), qos: 1, retain: true },
    });
    const link = new Reconnector({
      what: 'province broker',
      log: this.log,
      fields: { url: this.config.url },
      policy: this.reconnect,
      attempt: () => client.reconnect(),
    });
    link.watch(client);
    this.client = client;
    this.link = link;
    client.on('connect', () => {
      this.connected = true;
      client.publish(this.topic('state'), JSON.stringify({ state: 'online', at: new Date().toISOString() }), { qos: 1, retain: true });
      this.publishHealth();
      this.stopHealth();
      this.healthTimer = setInterval(() => this.publishHealth(), this.config.healthIntervalSeconds * 1000);
      this.healthTimer.unref();
    });
    client.on('close', () => {
      this.connected = false;
      this.stopHealth();
    });
  }

  private publishHealth(): void {
    this.client?.publish(this.topic('health'), JSON.stringify(this.health()), { qos: 0, retain: true });
  }

  private stopHealth(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
  }

  async stop(): Promise<void> {
    this.link?.stop();
    this.link = null;
    this.stopHealth();
    const client = this.client;
    this.client = null;
    if (!client) return;
    // A broker that stopped answering must not hold the shutdown: 3 s, then hang up.
    const bounded = (p: Promise<void>) => Promise.race([p, new Promise<void>((r) => setTimeout(r, 3_000).unref())]);
    if (client.connected) {
      await bounded(
        new Promise<void>((r) =>
          client.publish(this.topic('state'), JSON.stringify({ state: 'offline', reason: 'stopped' }), { qos: 1, retain: true }, () => r()),
        ),
      );
    }
    await bounded(new Promise<void>((r) => client.end(false, {}, () => r())));
    client.end(true);
  }
}
