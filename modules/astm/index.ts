import net from 'node:net';
import { systemClock, type Clock } from '../../core/contract/clock.ts';
import { GuardedListener, type ListenerLimits } from '../../core/contract/net.ts';
import { PeerAllowList, unmapIpv4 } from '../../core/contract/net.ts';
import { pathHold, portHold, type Driver, type DriverContext, type DriverFactory, type DriverStatus, type SelfTestResult } from '../../core/contract/driver.ts';
import { probeTcpListener } from '../../core/contract/net.ts';
import { isLabTextEncoding, type LabTextEncoding } from '../lab/index.ts';
import { ORDER_CACHE_SERVICE } from '../lab/index.ts';
import { LAB_PROFILES, labProfile, type LabQuirk } from '../lab/index.ts';
import type { AstmLinkTimers } from './link.ts';
import { AstmSession, type AstmSessionCounters, type AstmSessionSettings } from './session.ts';
import type { EdgeModule } from '../../core/contract/module.ts';
import { astmLisDestinationFactory } from './lisDestination.ts';

/** One analyzer's configuration block (see modules/astm/schema.json). */
export interface AstmDriverConfig {
  profile?: string;
  transport?: 'tcp-server' | 'tcp-client' | 'serial';
  /** tcp-server: address to listen on; tcp-client: analyzer's address. */
  host?: string;
  port?: number;
  /** serial: device path, e.g. /dev/ttyUSB0. */
  path?: string;
  baudRate?: number;
  dataBits?: 7 | 8;
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
  framing?: 'framed' | 'bare';
  frameSize?: number;
  encoding?: LabTextEncoding;
  timezone?: string;
  testCodes?: Record<string, string>;
  quirks?: LabQuirk[];
  forwardQc?: boolean;
  stripDiacritics?: boolean;
  clockSkewAlarmSeconds?: number;
  /** tcp-client / serial: wait before reconnecting after a failure. */
  reconnectMs?: number;
  /** Deprecated (before `limits`): tcp-server connections at once; still honoured over `limits.maxConnections`. */
  maxConnections?: number;
  /** tcp-server: addresses that may connect; absent or empty: the box itself only. */
  allowedPeers?: string[];
  /** tcp-server: connection bounds. */
  limits?: Partial<ListenerLimits>;
  /** Largest H…L message held until its L record (default from the profile). */
  maxMessageBytes?: number;
  /** Largest transmission ENQ … EOT; past it the connection is closed (default from the profile). */
  maxTransmissionBytes?: number;
  timers?: Partial<AstmLinkTimers>;
}

/**
 * tcp-server bounds when the configuration gives none (the schema's default too): an analyzer
 * holds one connection, quiet for hours; two per address let a reconnect overlap a stale one
 * (and the newest always replaces the idlest), idle ones are closed after a day.
 */
export const ASTM_LISTENER_LIMITS: ListenerLimits = { maxConnections: 4, maxConnectionsPerPeer: 2, idleSeconds: 86_400 };

export class AstmConfigError extends Error {
  readonly code = 'ASTM_CONFIG';
}

/** Merges profile defaults and the device's block into the session settings. */
export function resolveAstmSettings(
  ctx: Pick<DriverContext, 'timezone'>,
  config: AstmDriverConfig,
): AstmSessionSettings & { transport: NonNullable<AstmDriverConfig['transport']> } {
  const profile = labProfile(config.profile ?? 'generic-astm');
  if (profile.protocol !== 'astm' || !profile.astm) throw new AstmConfigError(`profile '${profile.id}' is not an ASTM profile`);
  const encoding = config.encoding ?? profile.encoding;
  if (!isLabTextEncoding(encoding)) throw new AstmConfigError(`unknown encoding '${String(encoding)}'`);
  const frameSize = config.frameSize ?? profile.astm.frameSize;
  if (!Number.isInteger(frameSize) || frameSize < 8 || frameSize > 64_000)
    throw new AstmConfigError(`frameSize ${frameSize} must be an integer between 8 and 64000`);
  const quirks = [...new Set([...profile.quirks, ...(config.quirks ?? [])])];
  return {
    transport: config.transport ?? profile.astm.defaultTransport,
    framing: config.framing ?? (quirks.includes('bareRecords') ? 'bare' : profile.astm.framing),
    frameSize,
    encoding,
    timezone: config.timezone ?? ctx.timezone ?? profile.timezone,
    testCodes: { ...profile.testCodes, ...config.testCodes },
    quirks,
    forwardQc: config.forwardQc ?? false,
    stripDiacritics: config.stripDiacritics ?? false,
    ...(config.clockSkewAlarmSeconds !== undefined ? { clockSkewAlarmSeconds: config.clockSkewAlarmSeconds } : {}),
    timers: config.timers,
    // Incoming frames are bounded by the same size as outgoing ones (E1381-95: 247 bytes).
    maxFrameBytes: frameSize,
    maxMessageBytes: config.maxMessageBytes ?? profile.astm.maxMessageBytes,
    maxTransmissionBytes: config.maxTransmissionBytes ?? profile.astm.maxTransmissionBytes,
  };
}

/** A byte pipe to an analyzer: a TCP socket or a serial port. */
interface Pipe {
  name: string;
  write(bytes: Buffer): void;
  close(): void;
}

/**
 * ASTM E1381/E1394 analyzer driver over TCP (box listens, or box connects) or a serial port.
 * Each connection gets its own AstmSession (link state, buffers, capture).
 */
export class AstmDriver implements Driver {
  private readonly settings: ReturnType<typeof resolveAstmSettings>;
  private readonly sessions = new Set<AstmSession>();
  private readonly pipes = new Set<Pipe>();
  private listener: GuardedListener | null = null;
  private stopping = false;
  private reconnectCancel: (() => void) | null = null;
  private state: DriverStatus = { state: 'stopped', since: new Date().toISOString() };
  private readonly totals: AstmSessionCounters = {
    frames: 0,
    duplicateFrames: 0,
    rejectedFrames: 0,
    messages: 0,
    results: 0,
    duplicateResults: 0,
    incomplete: 0,
    queries: 0,
    storeFailures: 0,
    oversizedFrames: 0,
    cutOff: 0,
  };
  private readonly refusals = { refusedPeers: 0, refusedBusy: 0 };
  private endpoint = '';
  private serialPort: { close(cb?: (err?: Error | null) => void): void; isOpen: boolean } | null = null;

  constructor(
    private readonly ctx: DriverContext,
    private readonly config: AstmDriverConfig,
    private readonly clock: Clock = systemClock,
  ) {
    this.settings = resolveAstmSettings(ctx, config);
  }

  /** The TCP port actually listened on (tcp-server with port 0). */
  get listeningPort(): number | undefined {
    return this.listener?.address.port;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.report('starting', 'starting');
    if (this.settings.transport === 'tcp-server') await this.listen();
    else if (this.settings.transport === 'tcp-client') this.connectTcp();
    else await this.openSerial();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.reconnectCancel?.();
    for (const p of [...this.pipes]) p.close();
    for (const s of [...this.sessions]) {
      s.close();
      await s.idle();
    }
    const listener = this.listener;
    this.listener = null;
    listener?.destroyAll();
    await listener?.stop();
    if (this.serialPort?.isOpen) await new Promise<void>((r) => this.serialPort!.close(() => r()));
    this.state = { state: 'stopped', since: new Date().toISOString() };
  }

  status(): DriverStatus {
    const counters: Record<string, number> = {
      ...this.totals,
      ...(this.settings.transport === 'tcp-server' ? this.refusals : {}),
      connections: this.sessions.size,
    };
    for (const s of this.sessions) for (const [k, v] of Object.entries(s.counters)) counters[k] = (counters[k] ?? 0) + v;
    return { ...this.state, counters };
  }

  /** tcp-server: connects to our own port as an analyzer would; otherwise reports the line. */
  async selfTest(signal: AbortSignal): Promise<SelfTestResult> {
    const s = this.status();
    const seen = `${s.counters?.connections ?? 0} connection(s), ${s.counters?.results ?? 0} result(s) stored`;
    if (this.settings.transport === 'tcp-server') {
      const port = this.listeningPort;
      if (port === undefined) return { ok: false, detail: `not listening: ${s.lastError ?? s.state}` };
      const probe = await probeTcpListener(this.config.host ?? '0.0.0.0', port, signal);
      return probe.ok
        ? { ok: true, detail: `port ${port} accepts connections (${probe.ms} ms); ${seen}` }
        : { ok: false, detail: `port ${port} refused a test connection: ${probe.error}; ${seen}` };
    }
    // A serial line or an outgoing connection: up when a session is open on it.
    return {
      ok: this.sessions.size > 0,
      detail: `${s.detail ?? s.state}; ${seen}${this.sessions.size === 0 ? ' — no line open: check the cable, the port and the analyzer' : ''}`,
    };
  }

  private report(state: DriverStatus['state'], detail: string, error?: unknown): void {
    this.state = { state, detail, since: new Date().toISOString(), ...(error ? { lastError: error instanceof Error ? error.message : String(error) } : {}) };
    this.ctx.setStatus(state, detail, error);
  }

  private describe(): string {
    return `${this.endpoint}, ${this.sessions.size} connection${this.sessions.size === 1 ? '' : 's'}`;
  }

  private attach(pipe: Pipe): AstmSession {
    const cache = this.ctx.services.get(ORDER_CACHE_SERVICE);
    const session = new AstmSession(
      this.ctx,
      this.settings,
      this.clock,
      pipe.name,
      (b) => pipe.write(b),
      cache,
      (ok, err) => {
        if (!ok && this.state.state !== 'degraded') this.report('degraded', 'the journal refused data: the analyzer gets NAK and will resend', err);
        else if (ok && this.state.state === 'degraded' && this.sessions.size > 0) this.report('running', this.describe());
      },
      () => pipe.close(),
    );
    this.sessions.add(session);
    this.pipes.add(pipe);
    return session;
  }

  private detach(pipe: Pipe, session: AstmSession): void {
    session.close();
    for (const [k, v] of Object.entries(session.counters)) this.totals[k as keyof AstmSessionCounters] += v;
    this.sessions.delete(session);
    this.pipes.delete(pipe);
  }

  private wireSocket(socket: net.Socket, name: string, onGone: () => void): void {
    // One ACK byte must leave at once: Nagle would hold it behind the previous one.
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const pipe: Pipe = {
      name,
      write: (b) => {
        if (!socket.destroyed) socket.write(b);
      },
      close: () => socket.destroy(),
    };
    const session = this.attach(pipe);
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    socket.on('error', (err) => this.ctx.log.info({ connection: name, err: err.message }, 'analyzer connection error'));
    socket.once('close', () => {
      this.detach(pipe, session);
      onGone();
    });
  }

  private async listen(): Promise<void> {
    const host = this.config.host ?? '0.0.0.0';
    const limits: ListenerLimits = { ...ASTM_LISTENER_LIMITS, ...this.config.limits };
    if (this.config.maxConnections !== undefined) {
      limits.maxConnections = this.config.maxConnections;
      this.ctx.log.info('maxConnections is read as limits.maxConnections; move it under limits:');
    }
    const listener = new GuardedListener({
      name: `ASTM listener ${this.ctx.id}`,
      host,
      port: this.config.port ?? 4010,
      allow: new PeerAllowList(this.config.allowedPeers),
      limits,
      log: this.ctx.log,
      clock: this.clock, // the refusal log's one-minute summaries
      onConnection: (socket) => {
        const name = `tcp:${unmapIpv4(socket.remoteAddress ?? '')}:${socket.remotePort}`;
        this.wireSocket(socket, name, () => {
          if (!this.stopping) this.report('running', this.describe());
        });
        this.report('running', this.describe());
      },
      onRefused: (reason) => {
        if (reason === 'not-allowed') this.refusals.refusedPeers++;
        else this.refusals.refusedBusy++;
      },
    });
    await listener.start();
    this.listener = listener;
    this.endpoint = `listening on ${host}:${this.listeningPort}`;
    this.report('running', this.describe());
  }

  private connectTcp(): void {
    if (this.stopping) return;
    const host = this.config.host ?? '127.0.0.1';
    const port = this.config.port;
    if (!port) throw new AstmConfigError('tcp-client needs the analyzer port');
    this.endpoint = `connecting to ${host}:${port}`;
    const socket = net.connect({ host, port });
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      this.endpoint = `connected to ${host}:${port}`;
      this.report('running', this.describe());
    });
    const retry = () => {
      if (this.stopping) return;
      this.endpoint = `reconnecting to ${host}:${port}`;
      this.report('degraded', connected ? `connection to ${host}:${port} closed; reconnecting` : `cannot connect to ${host}:${port}; retrying`);
      this.reconnectCancel = this.clock.setTimer(() => this.connectTcp(), this.config.reconnectMs ?? 5_000);
    };
    this.wireSocket(socket, `tcp:${host}:${port}`, retry);
  }

  private async openSerial(): Promise<void> {
    const path = this.config.path;
    if (!path) throw new AstmConfigError('serial transport needs a device path');
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({
      path,
      baudRate: this.config.baudRate ?? 9600,
      dataBits: this.config.dataBits ?? 8,
      parity: this.config.parity ?? 'none',
      stopBits: this.config.stopBits ?? 1,
      autoOpen: false,
    });
    this.serialPort = port;
    const pipe: Pipe = { name: `serial:${path}`, write: (b) => port.write(b), close: () => port.isOpen && port.close() };
    const open = () =>
      new Promise<void>((resolve) => {
        port.open((err) => {
          if (err) {
            this.report('degraded', `cannot open ${path}; retrying`, err);
            if (!this.stopping) this.reconnectCancel = this.clock.setTimer(() => void open(), this.config.reconnectMs ?? 5_000);
            resolve();
            return;
          }
          const session = this.attach(pipe);
          this.endpoint = `serial ${path} at ${this.config.baudRate ?? 9600} baud`;
          const onData = (chunk: Buffer) => session.receive(chunk);
          port.on('data', onData);
          port.once('close', () => {
            port.off('data', onData);
            this.detach(pipe, session);
            if (!this.stopping) {
              this.report('degraded', `${path} closed; reopening`);
              this.reconnectCancel = this.clock.setTimer(() => void open(), this.config.reconnectMs ?? 5_000);
            }
          });
          this.report('running', this.endpoint);
          resolve();
        });
      });
    port.on('error', (err) => this.ctx.log.warn({ err: err.message }, 'serial port error'));
    await open();
  }
}

export const astmDriverFactory: DriverFactory<AstmDriverConfig> = {
  type: 'astm',
  create: (ctx, config) => new AstmDriver(ctx, config),
  holds: (d) => {
    // The profile says how the analyzer connects when the block does not.
    const transport = d.transport ?? LAB_PROFILES[String(d.profile ?? 'generic-astm')]?.astm?.defaultTransport;
    if (transport === 'tcp-server') return portHold(['port'], d.host ?? '0.0.0.0', d.port ?? 4010);
    return transport === 'serial' ? pathHold(d.path) : [];
  },
};

// What the agent wires: the driver above, the optional ASTM LIS destination, and the order
// cache the driver looks up under ORDER_CACHE_SERVICE to answer host queries.
export { astmLisDestinationFactory, AstmLisDestination, type AstmLisConfig } from './lisDestination.ts';
export { ORDER_CACHE_SERVICE, SqliteOrderCache, type OrderCache, type LabOrder } from '../lab/index.ts';

/** ASTM E1381/E1394 analyzers (the `astm` device) and the ASTM LIS destination. */
export const astmModule: EdgeModule = {
  name: 'astm',
  drivers: [astmDriverFactory],
  destinations: [astmLisDestinationFactory],
  schema: {
    devices: [{ type: 'astm', file: new URL('./schema.json', import.meta.url) }],
    destinations: [{ type: 'astm-lis', file: new URL('./destination.schema.json', import.meta.url) }],
  },
};

// What `edge-agent replay` (modules/lab/replay.ts) re-sends an ASTM capture with.
export { ENQ, EOT, LF, parseFrame, STX } from './frame.ts';
export { AstmLink } from './link.ts';

// For the other modules (they import this index only).
export { extractResults } from './records.ts';
export { parseMessage } from './records.ts';
