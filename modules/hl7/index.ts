import { portHold, type Driver, type DriverContext, type DriverFactory, type DriverStatus, type SelfTestResult } from '../../core/contract/driver.ts';
import { probeTcpListener } from '../../core/contract/net.ts';
import type { ListenerLimits } from '../../core/contract/net.ts';
import type { TlsServerSettings } from '../../core/contract/net.ts';
import type { LabTextEncoding } from '../lab/index.ts';
import { labProfile } from '../lab/index.ts';
import { Hl7Listener } from './listener.ts';
import type { EdgeModule } from '../../core/contract/module.ts';
import { hl7LisDestinationFactory } from './lisDestination.ts';

export interface Hl7DriverConfig {
  profile?: string;
  host?: string;
  port?: number;
  encoding?: LabTextEncoding;
  testCodes?: Record<string, string>;
  forwardQc?: boolean;
  stripDiacritics?: boolean;
  clockSkewAlarmSeconds?: number;
  maxMessageBytes?: number;
  mllpRelease2?: boolean;
  applicationName?: string;
  /** 'analyzer' (results and host queries, default) or 'orders' (ORM/OML from the LIS/HIS). */
  mode?: 'analyzer' | 'orders';
  /** Addresses that may connect; absent or empty: the box itself only. */
  allowedPeers?: string[];
  limits?: Partial<ListenerLimits>;
  tls?: TlsServerSettings;
  messageTimeoutSeconds?: number;
}

/**
 * Connection bounds of an HL7 listener when the configuration gives none (the schema's default
 * too). An analyzer keeps its connection open and may be quiet for hours: idle connections are
 * closed only after a day (keep-alive finds dead peers sooner), and a stale one never locks the
 * device out, since its newest connection replaces its idlest.
 */
export const HL7_LISTENER_LIMITS: ListenerLimits = { maxConnections: 16, maxConnectionsPerPeer: 4, idleSeconds: 86_400 };
/** A message must end within this long of its first byte (a 4 MiB histogram takes < 5 s on a 10 Mbit/s LAN). */
export const HL7_MESSAGE_TIMEOUT_SECONDS = 60;

/** An HL7 v2 analyzer (or middleware) sending results over MLLP to the box. */
class Hl7Driver implements Driver {
  private listener: Hl7Listener | null = null;
  private since = new Date().toISOString();

  constructor(
    private readonly ctx: DriverContext,
    private readonly config: Hl7DriverConfig,
  ) {}

  async start(): Promise<void> {
    const profile = labProfile(this.config.profile ?? 'generic-hl7');
    if (profile.protocol !== 'hl7') throw new Error(`profile "${profile.id}" is for ${profile.protocol}, not HL7`);
    this.listener = new Hl7Listener(this.ctx, {
      host: this.config.host ?? '0.0.0.0',
      port: this.config.port ?? 2575,
      encoding: this.config.encoding ?? profile.encoding,
      testCodes: { ...profile.testCodes, ...this.config.testCodes },
      forwardQc: this.config.forwardQc ?? false,
      maxMessageBytes: this.config.maxMessageBytes ?? profile.hl7?.maxMessageBytes ?? 1024 * 1024,
      mllpRelease2: this.config.mllpRelease2 ?? profile.hl7?.mllpRelease2 ?? false,
      applicationName: this.config.applicationName ?? 'EDGE',
      stripDiacritics: this.config.stripDiacritics ?? false,
      ...(this.config.clockSkewAlarmSeconds !== undefined ? { clockSkewAlarmSeconds: this.config.clockSkewAlarmSeconds } : {}),
      mode: this.config.mode ?? 'analyzer',
      allowedPeers: this.config.allowedPeers ?? [],
      limits: { ...HL7_LISTENER_LIMITS, ...this.config.limits },
      ...(this.config.tls ? { tls: this.config.tls } : {}),
      messageTimeoutSeconds: this.config.messageTimeoutSeconds ?? HL7_MESSAGE_TIMEOUT_SECONDS,
    });
    await this.listener.start();
    this.since = new Date().toISOString();
    this.ctx.setStatus('running', this.detail());
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
    this.listener = null;
  }

  status(): DriverStatus {
    if (!this.listener) return { state: 'stopped', since: this.since };
    return { state: 'running', since: this.since, detail: this.detail(), counters: { ...this.listener.counters, connections: this.listener.connections } };
  }

  /** Connects to our own port as an analyzer would, and reports what came in so far. */
  async selfTest(signal: AbortSignal): Promise<SelfTestResult> {
    if (!this.listener) return { ok: false, detail: 'not listening' };
    const { host, port } = this.listener.address;
    // Counted before the probe, which is a connection of its own.
    const c = this.listener.counters;
    const seen = `${this.listener.connections} connection(s) now, ${c.messages} message(s) and ${c.results} result(s) stored, ${c.rejected} rejected, ${c.queries} host queries answered, ${c.refusedPeers + c.refusedBusy + c.refusedTls} connection(s) refused`;
    const probe = await probeTcpListener(host, port, signal);
    return probe.ok
      ? { ok: true, detail: `port ${port} accepts connections (${probe.ms} ms); ${seen}` }
      : { ok: false, detail: `port ${port} refused a test connection: ${probe.error}; ${seen}` };
  }

  private detail(): string {
    const a = this.listener?.address;
    return a ? `listening on ${a.host}:${a.port}${this.config.tls ? ' (TLS)' : ''}, ${this.listener!.connections} connection(s)` : 'stopped';
  }

  /** For tests: the bound port (the configuration may say 0). */
  get port(): number {
    return this.listener?.address.port ?? 0;
  }
}

export const hl7DriverFactory: DriverFactory<Hl7DriverConfig> = {
  type: 'hl7-mllp',
  create: (ctx, config) => new Hl7Driver(ctx, config),
  holds: (d) => portHold(['port'], d.host ?? '0.0.0.0', d.port ?? 2575),
};

export { Hl7Driver };
export { hl7LisDestinationFactory, lisMllpDestinationFactory } from './lisDestination.ts';

/** HL7 v2 analyzers over MLLP (the `hl7-mllp` device) and the HL7 LIS destination. */
export const hl7Module: EdgeModule = {
  name: 'hl7',
  drivers: [hl7DriverFactory],
  destinations: [hl7LisDestinationFactory],
  schema: {
    devices: [{ type: 'hl7-mllp', file: new URL('./schema.json', import.meta.url) }],
    destinations: [{ type: 'hl7-mllp-lis', file: new URL('./destination.schema.json', import.meta.url) }],
  },
};

// MLLP framing for `edge-agent replay` and the HIS's ADT sender.
export { MllpDecoder, mllpFrame } from './mllp.ts';

// For the other modules (they import this index only).
export { controlIdFor } from './ack.ts';
export { hl7TimeFromIso } from './ack.ts';
export { escapeHl7 } from './message.ts';
export { MllpSender } from './mllpSender.ts';
export { MllpSendError } from './mllpSender.ts';
export { parseHl7 } from './message.ts';
export { extractHl7Results } from './results.ts';
