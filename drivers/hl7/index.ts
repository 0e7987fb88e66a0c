import type { Driver, DriverContext, DriverFactory, DriverStatus, SelfTestResult } from '../contract.ts';
import { probeTcpListener } from '../tcpProbe.ts';
import type { LabTextEncoding } from '../lab/encoding.ts';
import { labProfile } from '../lab/profiles.ts';
import { Hl7Listener } from './listener.ts';

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
}

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
      maxMessageBytes: this.config.maxMessageBytes ?? 64 * 1024 * 1024,
      mllpRelease2: this.config.mllpRelease2 ?? profile.hl7?.mllpRelease2 ?? false,
      applicationName: this.config.applicationName ?? 'EDGE',
      stripDiacritics: this.config.stripDiacritics ?? false,
      ...(this.config.clockSkewAlarmSeconds !== undefined ? { clockSkewAlarmSeconds: this.config.clockSkewAlarmSeconds } : {}),
      mode: this.config.mode ?? 'analyzer',
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
    const seen = `${this.listener.connections} connection(s) now, ${c.messages} message(s) and ${c.results} result(s) stored, ${c.rejected} rejected, ${c.queries} host queries answered`;
    const probe = await probeTcpListener(host, port, signal);
    return probe.ok ? { ok: true, detail: `port ${port} accepts connections (${probe.ms} ms); ${seen}` } : { ok: false, detail: `port ${port} refused a test connection: ${probe.error}; ${seen}` };
  }

  private detail(): string {
    const a = this.listener?.address;
    return a ? `listening on ${a.host}:${a.port}, ${this.listener!.connections} connection(s)` : 'stopped';
  }

  /** For tests: the bound port (the configuration may say 0). */
  get port(): number {
    return this.listener?.address.port ?? 0;
  }
}

export const hl7DriverFactory: DriverFactory<Hl7DriverConfig> = {
  type: 'hl7-mllp',
  create: (ctx, config) => new Hl7Driver(ctx, config),
};

export { Hl7Driver };
export { hl7LisDestinationFactory, lisMllpDestinationFactory } from './lisDestination.ts';
