import type { DeviceAlarm } from './deviceAlarms.ts';
import type { DriverStatus, Journal, SelfTestResult, ServiceRegistry } from './contract/driver.ts';
import type { EventBus } from './contract/events.ts';
import type { AgentConfig } from './config/types.ts';
import type { ForwarderStats } from './forward/forwarder.ts';
import type { Store } from './store/store.ts';

export interface ComponentView {
  id: string;
  /** Driver or destination type. */
  type: string;
  status: DriverStatus;
  restarts: number;
  /** Devices only: alarms raised and not cleared (clock skew…). */
  alarms?: DeviceAlarm[];
}

export interface DestinationView extends ComponentView {
  stats: ForwarderStats;
}

/** What the local API, the MQTT publishers and the metrics see of the running agent. */
export interface RuntimeView {
  readonly config: AgentConfig;
  readonly configFile: string;
  readonly store: Store;
  readonly bus: EventBus;
  readonly startedAt: number;
  /** Shared services (order cache, ingest router…) by name. */
  readonly services: ServiceRegistry;
  devices(): ComponentView[];
  destinations(): DestinationView[];
  /** Runs a device's self-test (console "Test" button); undefined when no such device runs. */
  testDevice(id: string): Promise<SelfTestResult | undefined>;
  /** A device's journal with its routes (each destination taking the streams it asks for). */
  journalFor(device: string): Journal;
  /** Look at a destination's outbox now (after a console action). */
  wakeDestination(id: string): void;
  /** Stop gracefully and exit so systemd starts the agent again (configuration applied). */
  requestRestart(): void;
}
