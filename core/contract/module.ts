import type Database from 'better-sqlite3';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { DomainEventKey, EventBus } from './events.ts';
import type { Clock } from './clock.ts';
import type { AgentConfig, ConfigProblem } from '../config/types.ts';
import type { DestinationFactory } from './destination.ts';
import type { Store } from '../store/store.ts';
import type { DriverFactory, Journal, ServiceKey, ServiceRegistry } from './driver.ts';

/**
 * What a module is to the core (issue #18): a manifest the controller walks at start. The core
 * imports no module; the composition root (`main.ts`) hands it `modules/index.ts`'s list.
 * Everything a module needs from the core comes through `ModuleContext`; everything it offers
 * (drivers, destinations, services, routes, retention) is declared here.
 */
export interface EdgeModule {
  /** Short and stable: the console, the logs and the `requires` errors name it. */
  name: string;
  drivers?: readonly DriverFactory<never>[];
  destinations?: readonly DestinationFactory<never>[];
  /** Services this module provides in `start` and those it needs from others: checked before any starts. */
  provides?: readonly ServiceKey<unknown>[];
  requires?: readonly ServiceKey<unknown>[];
  /**
   * Its tables' schema steps, 1, 2, 3…: the core keeps each module's version in the store and
   * runs the newer steps (each in a transaction) before `start`.
   */
  migrations?: readonly ModuleMigration[];
  /** The domain events it publishes (topic, body type, visibility: only `lan` ones reach the LAN broker). */
  events?: readonly DomainEventKey<unknown>[];
  /** Warnings about its configuration blocks that do not stop the agent (printed by check-config, logged at start). */
  configWarnings?(config: AgentConfig, at: ConfigLocator): ConfigProblem[];
  /** Its configuration blocks: merged into config/schema.json by `npm run build:schema`. */
  schema?: ModuleSchema;
  /** Device models it offers (the first-run page lists them per protocol). */
  profiles?: readonly DeviceProfileSummary[];
  /** Its `edge-agent` subcommands (loaded lazily: the CLI's start stays cheap). */
  commands?: readonly ModuleCommand[];
  /**
   * Builds the module's services for one run of the agent (its tables are its own). Runs after
   * the store opened, before the drivers; what it returns lives until the agent stops.
   */
  start?(ctx: ModuleContext): ModuleRun | undefined | Promise<ModuleRun | undefined>;
}

/**
 * A module's configuration schema fragments (files beside its code, as URLs from its
 * `import.meta.url`): a device or destination block per type, and whole `$defs` files that add
 * top-level blocks (`his:`, `queue:`). `def` picks one definition out of a file; `wrap` adds the
 * common device fields to a block written without them.
 */
export interface ModuleSchema {
  devices?: ReadonlyArray<{ type: string; file: URL; def?: string; wrap?: boolean }>;
  destinations?: ReadonlyArray<{ type: string; file: URL }>;
  defs?: ReadonlyArray<{ file: URL; properties: Record<string, unknown> }>;
}

/** Where a field of the configuration file is, for a module's own configuration warnings. */
export interface ConfigLocator {
  locate(path: Array<string | number>): { file: string; line: number; column: number };
  has(path: Array<string | number>): boolean;
}

/** One schema step of a module's own tables. */
export interface ModuleMigration {
  version: number;
  description: string;
  up(db: Database.Database): void;
}

/** A device model as the first-run page offers it: `protocol` is the device kind it is for (astm, hl7). */
export interface DeviceProfileSummary {
  id: string;
  name: string;
  protocol: string;
}

/** One `edge-agent NAME …` subcommand: its usage lines for `--help` and what it runs (exit code). */
export interface ModuleCommand {
  name: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** A started module: its routes, retention and stop, for this run of the agent. */
export interface ModuleRun {
  /** Its HTTP routes, registered inside the core's API (same bounds, Host check, headers, error answers). */
  routes?(app: FastifyInstance, api: ModuleApi): void | Promise<void>;
  /** Hourly, after the store's own retention: what it purged, by name (logged when not zero). */
  retention?(nowMs: number): Record<string, number> | Promise<Record<string, number>>;
  /** After the drivers and destinations stopped, before the store closes. */
  stop?(): void | Promise<void>;
}

/** What the core gives a module at start. */
export interface ModuleContext {
  config: AgentConfig;
  log: Logger;
  bus: EventBus;
  clock: Clock;
  services: ServiceRegistry;
  /** The box's SQLite database, for the module's own tables. */
  db: Database.Database;
  store: Pick<Store, 'outbox' | 'blobs' | 'captures'>;
  /** A journal for a source that is not a configured device (the kiosk, the queue). */
  journalFor(source: string, routes: readonly string[]): Journal;
  /** A configured device's journal, routed as its configuration says (what its driver appends to). */
  deviceJournal(device: string): Journal;
  /** Wakes a destination's forwarder now (its outbox got work). */
  wakeDestination(id: string): void;
}

/** What a module's routes get: the core's guards and the services. */
export interface ModuleApi {
  requireAdmin: RouteGuard;
  requireStaff: RouteGuard;
  requireKiosk: RouteGuard;
  services: ServiceRegistry;
}

/** A route's `onRequest`/`preHandler` guard (the core's login and kiosk checks). */
export type RouteGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** A service some module requires and none provides: a start error that says which. */
export function missingServices(modules: readonly EdgeModule[], coreProvides: readonly string[] = []): string[] {
  const provided = new Set<string>([...coreProvides, ...modules.flatMap((m) => m.provides ?? [])]);
  return modules.flatMap((m) =>
    (m.requires ?? []).filter((k) => !provided.has(k)).map((k) => `module "${m.name}" needs the service "${k}", which no module provides`),
  );
}
