import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Driver, DriverContext, DriverStatus, Journal, SelfTestResult, ServiceRegistry } from './contract/driver.ts';
import { missingServices, type EdgeModule, type ModuleContext, type ModuleRun } from './contract/module.ts';
import { EventBus } from './contract/events.ts';
import { systemClock, type Clock } from './contract/clock.ts';
import { loadConfig } from './config/load.ts';
import { formatProblem, type AgentConfig, type DestinationConfig, type DeviceConfig } from './config/types.ts';
import { DeviceAlarms } from './deviceAlarms.ts';
import { DEFAULT_BATCH_MAX_BYTES, OutboxForwarder } from './forward/forwarder.ts';
import { routesTaking, type Destination, type DestinationContext } from './contract/destination.ts';
import type { ConsoleAuth } from './http/auth.ts';
import { AgentMetrics } from './http/metrics.ts';
import { buildLocalApi, type LocalApiOptions } from './http/server.ts';
import { createLogger } from './log.ts';
import { LanBroker } from './mqtt/lanBroker.ts';
import { boxTopic } from './mqtt/topics.ts';
import { ProvinceLink } from './mqtt/provinceLink.ts';
import { destinationFactories, destinationStreams, driverFactories, registerModules } from './registry.ts';
import type { ComponentView, DestinationView, RuntimeView } from './runtime.ts';
import { createNotifier, type Notifier } from './sdNotify.ts';
import { Store } from './store/store.ts';
import { migrateModule } from './store/moduleSchema.ts';
import { StoreAlarms } from './store/storeAlarms.ts';
import { Supervisor } from './supervisor.ts';

export interface AgentOptions {
  configFile: string;
  /** What this box runs besides the core (modules/index.ts's MODULES, from the composition root). */
  modules: readonly EdgeModule[];
  log?: Logger;
  clock?: Clock;
  notifier?: Notifier;
  /** Extra HTTP route plugins (queue, kiosk, console). */
  httpPlugins?: LocalApiOptions['plugins'];
  /** Called when the console asks for a restart (the CLI stops and exits; systemd restarts). */
  onRestartRequested?: () => void;
}

interface DeviceSlot {
  id: string;
  config: DeviceConfig;
  supervisor: Supervisor;
  driver: Driver | null;
}

interface DestinationSlot {
  id: string;
  config: DestinationConfig;
  supervisor: Supervisor;
  forwarder: OutboxForwarder | null;
}

const LAN_TOPIC_ROOT = 'edge';

/**
 * Builds the shared services and starts everything in order: configuration → store → LAN
 * broker → drivers → forwarders → HTTP; stops in reverse. A broken driver or destination is
 * isolated by its Supervisor; only the store and the HTTP port are fatal at start.
 */
export class Agent implements RuntimeView {
  readonly bus = new EventBus();
  private readonly alarms = new DeviceAlarms(this.bus);
  readonly startedAt: number;
  readonly metrics: AgentMetrics;
  readonly services: ServiceRegistry;
  store!: Store;
  config!: AgentConfig;
  configFile!: string;
  http: FastifyInstance | null = null;
  lanBroker: LanBroker | null = null;
  province: ProvinceLink | null = null;
  /** The modules started in this run, in start order (stopped in reverse). */
  private readonly runs: Array<{ module: EdgeModule; run: ModuleRun }> = [];
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly notifier: Notifier;
  private readonly deviceSlots: DeviceSlot[] = [];
  private readonly destinationSlots: DestinationSlot[] = [];
  private readonly timers: Array<() => void> = [];
  private readonly serviceMap = new Map<string, unknown>();
  private stopped = false;

  constructor(private readonly options: AgentOptions) {
    this.log = options.log ?? createLogger();
    this.clock = options.clock ?? systemClock;
    this.notifier = options.notifier ?? createNotifier();
    this.startedAt = this.clock.now();
    this.metrics = new AgentMetrics(() => (this.store ? this : null));
    this.services = {
      get: <T>(name: string) => this.serviceMap.get(name) as T | undefined,
      provide: (name, service) => void this.serviceMap.set(name, service),
    };
    this.bus.onError((err) => this.log.error({ err }, 'bus listener failed'));
    registerModules(options.modules);
  }

  /** Throws ConfigError (with every problem) before anything starts. */
  async start(): Promise<void> {
    const loaded = loadConfig(this.options.configFile);
    this.config = loaded.config;
    this.configFile = loaded.file;
    const c = this.config;
    this.log.level = c.log.level;
    // Warnings do not stop the agent (check-config prints the same lines).
    for (const w of loaded.warnings) this.log.warn({ field: w.field }, `configuration warning: ${formatProblem(w)}`);
    const storeAlarms = new StoreAlarms(this.bus, this.log.child({ module: 'store' }), c.retention);
    this.log.info({ box: c.box.id, facility: c.box.facility, config: loaded.file }, 'starting');

    this.store = new Store({
      dir: c.box.dataDir,
      log: this.log.child({ module: 'store' }),
      clock: this.clock,
      timezone: c.box.timezone,
      budgetBytes: c.store.budgetMB * 1024 * 1024,
      minFreeBytes: c.store.minFreeMB * 1024 * 1024,
      warnPercent: c.store.warnPercent,
      criticalPercent: c.store.criticalPercent,
      blobPoolBytes: c.store.blobPoolMB * 1024 * 1024,
      captureBytes: c.store.captureMB * 1024 * 1024,
      onCaptureStop: (device, stopped, usage) => storeAlarms.captureStop(device, stopped, usage, this.clock.now()),
      retention: c.retention,
      onCommit: (ms, writes) => this.metrics.observeCommit(ms, writes),
      onEnqueued: (destinations) => {
        for (const d of destinations) this.wakeDestination(d);
      },
    });
    const recovered = await this.store.recover();
    this.log.info(
      { ...recovered, pendingByDestination: this.store.outbox.status(Object.keys(c.destinations)).map((s) => [s.destination, s.pending]) },
      'store open',
    );
    await this.startModules();

    if (c.lanBroker.enabled) {
      this.lanBroker = new LanBroker(c.lanBroker, {
        root: boxTopic(LAN_TOPIC_ROOT, c.box.facility, c.box.id),
        boxDeviceIds: Object.keys(c.devices),
        log: this.log.child({ module: 'lan-mqtt' }),
      });
      await this.lanBroker.start();
      this.wireLanPublishing();
    }

    for (const [id, config] of Object.entries(c.devices)) if (config.enabled) this.deviceSlots.push(this.makeDeviceSlot(id, config));
    await Promise.all(this.deviceSlots.map((s) => s.supervisor.start()));

    for (const [id, config] of Object.entries(c.destinations)) if (config.enabled) this.destinationSlots.push(this.makeDestinationSlot(id, config));
    await Promise.all(this.destinationSlots.map((s) => s.supervisor.start()));

    if (c.province?.enabled) {
      this.province = new ProvinceLink(c.province, c.box, this.log.child({ module: 'province-mqtt' }), () => this.healthSnapshot());
      this.province.start();
    }

    const { app, listen } = await buildLocalApi({
      runtime: this,
      metrics: this.metrics,
      log: this.log,
      plugins: [
        // Each module's routes in a fastify plugin of its own inside the core's API: the core's
        // bounds, Host check, guards and error answers apply; its own hooks and decorators stay in it.
        ...this.runs.map(({ run }) => async (app: FastifyInstance, auth: ConsoleAuth) => {
          const routes = run.routes;
          if (!routes) return;
          const api = { requireAdmin: auth.requireAdmin, requireStaff: auth.requireStaff, requireKiosk: auth.requireKiosk, services: this.services };
          await app.register(async (scope) => routes(scope, api));
        }),
        ...(this.options.httpPlugins ?? []),
      ],
    });
    await listen();
    this.http = app;

    this.startPeriodicJobs(storeAlarms);
    this.notifier.ready(`${this.deviceSlots.length} devices, ${this.destinationSlots.length} destinations`);
    this.log.info({ http: `${c.http.host}:${this.httpPort}` }, 'ready');
  }

  get httpPort(): number {
    const a = this.http?.server.address();
    return a && typeof a === 'object' ? a.port : this.config.http.port;
  }

  /** Graceful stop: stop accepting, let in-flight acknowledgements finish, close the store. */
  async stop(reason = 'stop requested'): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.notifier.stopping(reason);
    this.log.info({ reason }, 'stopping');
    this.bus.emit('agent.stopping', {});
    this.timers.forEach((cancel) => cancel());
    await this.http?.close();
    await Promise.all(this.deviceSlots.map((s) => s.supervisor.stop()));
    await Promise.all(this.destinationSlots.map((s) => s.supervisor.stop()));
    await this.province?.stop();
    if (this.lanBroker) {
      await this.lanBroker
        .publish(boxTopic(LAN_TOPIC_ROOT, this.config.box.facility, this.config.box.id, 'state'), { state: 'offline', at: new Date().toISOString() }, true)
        .catch(() => undefined);
      await this.lanBroker.stop();
    }
    for (const { module, run } of [...this.runs].reverse()) {
      await Promise.resolve(run.stop?.()).catch((err) => this.log.error({ err, module: module.name }, 'module stop failed'));
    }
    this.store?.close();
    this.notifier.close();
    this.log.info('stopped');
  }

  devices(): ComponentView[] {
    return this.deviceSlots.map((s) => ({
      id: s.id,
      type: s.config.driver,
      status: mergeStatus(s.supervisor.getStatus(), s.driver?.status()),
      restarts: s.supervisor.restartCount,
      alarms: this.alarms.for(s.id),
    }));
  }

  async testDevice(id: string): Promise<SelfTestResult | undefined> {
    const slot = this.deviceSlots.find((s) => s.id === id);
    if (!slot) return undefined;
    const driver = slot.driver;
    if (!driver) return { ok: false, detail: `not running: ${slot.supervisor.getStatus().lastError ?? slot.supervisor.getStatus().state}` };
    if (!driver.selfTest) {
      const s = mergeStatus(slot.supervisor.getStatus(), driver.status());
      return { ok: s.state === 'running', detail: `${s.state}${s.detail ? `: ${s.detail}` : ''} (this kind of device has no active test)` };
    }
    try {
      return await driver.selfTest(AbortSignal.timeout(25_000));
    } catch (err) {
      return { ok: false, detail: `test failed: ${(err as Error).message}` };
    }
  }

  destinations(): DestinationView[] {
    return this.destinationSlots.map((s) => ({
      id: s.id,
      type: s.config.type,
      status: s.supervisor.getStatus(),
      restarts: s.supervisor.restartCount,
      stats: s.forwarder?.stats ?? { delivered: 0, retried: 0, parked: 0, lastSuccessMs: null, lastError: null, inFlight: 0 },
    }));
  }

  requestRestart(): void {
    this.log.info('restart requested from the console');
    this.options.onRestartRequested?.();
  }

  wakeDestination(id: string): void {
    this.destinationSlots.find((s) => s.id === id)?.forwarder?.wake();
  }

  private makeDeviceSlot(id: string, config: DeviceConfig): DeviceSlot {
    const factory = driverFactories.get(config.driver);
    if (!factory) throw new Error(`no driver "${config.driver}" (device ${id})`);
    const log = this.log.child({ device: id });
    const slot: DeviceSlot = { id, config, driver: null, supervisor: null as unknown as Supervisor };
    const ctx: DriverContext = {
      id,
      log,
      bus: this.bus,
      journal: this.journalFor(id),
      blobs: this.store.blobs,
      capture: this.store.captureFor(id, config.capture),
      timezone: config.timezone,
      services: this.services,
      setStatus: (state, detail, error) => slot.supervisor.report(state, detail, error),
    };
    slot.supervisor = new Supervisor(
      `device ${id}`,
      () => {
        slot.driver = (factory as { create(ctx: DriverContext, config: unknown): Driver }).create(ctx, config);
        return slot.driver;
      },
      log,
      this.clock,
      (status) => this.bus.emit('device.status', { id, status }),
    );
    return slot;
  }

  /** A device's journal: each of its destinations takes the streams it asks for (a LIS: reports per order, or raw messages). */
  journalFor(device: string): Journal {
    const routes = this.config.devices[device]?.routes ?? [];
    return this.store.journalFor(device, (stream) => routesTaking(routes, stream, (d) => destinationStreams(this.config.destinations, d)));
  }

  private makeDestinationSlot(id: string, config: DestinationConfig): DestinationSlot {
    const factory = destinationFactories.get(config.type);
    if (!factory) throw new Error(`no destination type "${config.type}" (destination ${id})`);
    const log = this.log.child({ destination: id });
    const slot: DestinationSlot = { id, config, forwarder: null, supervisor: null as unknown as Supervisor };
    slot.supervisor = new Supervisor(
      `destination ${id}`,
      () => {
        const box = { id: this.config.box.id, facility: this.config.box.facility, timezone: this.config.box.timezone };
        const destination = (factory as { create(ctx: DestinationContext, config: unknown): Destination }).create(
          { id, log, box, services: this.services },
          config,
        );
        const forwarder = new OutboxForwarder(destination, this.store.outbox, this.clock, log, this.bus, {
          window: config.window,
          ordered: config.ordered,
          attemptTimeoutMs: config.attemptTimeoutSeconds * 1000,
          stableMs: (config.stableSeconds ?? 0) * 1000,
          batchSize: config.batchSize ?? 1,
          batchMaxBytes: config.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES,
          backoff: {
            initialMs: (config.backoff?.initialSeconds ?? 5) * 1000,
            maxMs: (config.backoff?.maxSeconds ?? 600) * 1000,
            jitter: config.backoff?.jitter ?? 0.5,
          },
        });
        return {
          start: async () => {
            await destination.start?.();
            slot.forwarder = forwarder;
            forwarder.start();
          },
          stop: async () => {
            await forwarder.stop();
            await destination.stop?.();
          },
        };
      },
      log,
      this.clock,
      (status) => this.bus.emit('destination.status', { id, status }),
    );
    return slot;
  }

  private wireLanPublishing(): void {
    const broker = this.lanBroker!;
    const { facility, id: box } = this.config.box;
    const topic = (...rest: string[]) => boxTopic(LAN_TOPIC_ROOT, facility, box, ...rest);
    const publish = (t: string, body: unknown, retain: boolean) =>
      broker.publish(t, body, retain).catch((err) => this.log.warn({ err, topic: t }, 'LAN publish failed'));
    void publish(topic('state'), { state: 'online', since: new Date(this.startedAt).toISOString() }, true);
    this.bus.on('lan-mqtt', 'device.status', ({ id, status }) => void publish(topic('dev', id, 'state'), status, true));
    // Only events marked `lan` reach the broker: identities, card keys and tickets stay in the process.
    this.bus.on('lan-mqtt', 'domain.event', (e) => e.visibility === 'lan' && void publish(topic(...e.topic.split('/')), e.body, e.retain ?? false));
  }

  /** Every module's services, in the list's order, once the store is open (before drivers need them). */
  private async startModules(): Promise<void> {
    const missing = missingServices(this.options.modules);
    if (missing.length) throw new Error(`the box's modules do not fit together: ${missing.join('; ')}`);
    for (const module of this.options.modules) {
      const schema = migrateModule(this.store.db, module.name, module.migrations ?? []);
      if (schema.to > schema.from) this.log.info({ module: module.name, ...schema }, 'module tables migrated');
      const ctx: ModuleContext = {
        config: this.config,
        log: this.log.child({ module: module.name }),
        bus: this.bus,
        clock: this.clock,
        services: this.services,
        db: this.store.db,
        store: this.store,
        journalFor: (source, routes) => this.store.journalFor(source, [...routes]),
        deviceJournal: (device) => this.journalFor(device),
        wakeDestination: (id) => this.wakeDestination(id),
      };
      const run = await module.start?.(ctx);
      this.runs.push({ module, run: run ?? {} });
    }
  }

  /** The box's health summary published to MQTT and shown in the console. */
  healthSnapshot(): Record<string, unknown> {
    return {
      at: new Date(this.clock.now()).toISOString(),
      uptimeSeconds: Math.round((this.clock.now() - this.startedAt) / 1000),
      rssBytes: process.memoryUsage().rss,
      disk: this.store.budget.current,
      devices: this.devices().map((d) => ({ id: d.id, state: d.status.state })),
      outbox: this.store.outbox
        .status(Object.keys(this.config.destinations))
        .map((s) => ({ destination: s.destination, pending: s.pending, parked: s.parked, oldestPendingSeconds: Math.round((s.oldestPendingMs ?? 0) / 1000) })),
    };
  }

  private every(ms: number, job: () => void | Promise<void>): void {
    const run = () => {
      Promise.resolve()
        .then(job)
        .catch((err) => this.log.error({ err }, 'periodic job failed'))
        .finally(() => {
          if (!this.stopped) cancel = this.clock.setTimer(run, ms);
        });
    };
    let cancel = this.clock.setTimer(run, ms);
    this.timers.push(() => cancel());
  }

  private startPeriodicJobs(storeAlarms: StoreAlarms): void {
    let lastLevel = this.store.budget.current.level;
    this.every(10_000, () => {
      const reading = this.store.budget.read();
      this.store.captures.recheck(false);
      if (reading.level !== lastLevel) {
        lastLevel = reading.level;
        const level = reading.level === 'ok' ? 'ok' : reading.level === 'warn' ? 'warn' : 'critical';
        this.log[level === 'ok' ? 'info' : 'warn']({ disk: reading }, `disk budget ${reading.level}`);
        this.bus.emit('store.alarm', { level, usedPercent: reading.usedPercent, freeBytes: reading.freeBytes });
      }
    });
    const retention = async () => {
      const outcome: Record<string, number> = { ...(await this.store.applyRetention()) };
      // Pending and parked personal data nearing retention.personalMaxDays: an alarm per source.
      storeAlarms.personalDataAge(this.store.personalDataAge(), this.clock.now());
      // Each module's own tables (orders, the study index): what they purged, by name.
      let purgedByModules = 0;
      for (const { run } of this.runs) {
        for (const [name, n] of Object.entries((await run.retention?.(this.clock.now())) ?? {})) {
          outcome[name] = n;
          purgedByModules += n;
        }
      }
      // Their old pages too must leave the WAL (the store checkpointed after its own purge).
      if (purgedByModules > 0) this.store.checkpoint();
      if (Object.values(outcome).some((n) => n > 0)) this.log.info(outcome, 'retention applied');
    };
    void retention().catch((err) => this.log.error({ err }, 'retention failed'));
    this.every(3_600_000, retention);
    const watchdog = this.notifier.watchdogIntervalMs();
    if (watchdog) {
      // Pings only while the event loop turns and the store answers: a wedged agent is restarted.
      this.every(watchdog, async () => {
        await this.store.probeWritable();
        this.notifier.watchdog();
      });
    }
    if (this.lanBroker) {
      const { facility, id: box } = this.config.box;
      this.every(this.config.lanBroker.healthIntervalSeconds * 1000, () =>
        this.lanBroker!.publish(boxTopic(LAN_TOPIC_ROOT, facility, box, 'health'), this.healthSnapshot(), true),
      );
    }
  }
}

function mergeStatus(supervised: DriverStatus, own: DriverStatus | undefined): DriverStatus {
  if (!own || supervised.state !== 'running') return supervised;
  return { ...supervised, detail: own.detail ?? supervised.detail, counters: own.counters };
}
