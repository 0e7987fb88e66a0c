import type { HttpSettings } from '../http/settings.ts';
import type { LanBrokerConfig } from '../mqtt/lanBroker.ts';

/**
 * The top-level blocks modules own (`his:`, `queue:`, `kiosk:`), added to AgentConfig by each
 * module's `declare module` augmentation: the core names none of them.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by the modules' declaration merging
export interface ModuleConfigBlocks {}

/** The configuration as the agent uses it: validated, defaults filled, secrets resolved. */
export interface AgentConfig extends ModuleConfigBlocks {
  version: 1;
  secretsFile?: string;
  box: { id: string; facility: string; name?: string; department?: string; timezone: string; dataDir: string };
  http: HttpSettings;
  lanBroker: LanBrokerConfig;
  province?: { enabled: boolean; url: string; username?: string; password?: string; topicRoot: string; healthIntervalSeconds: number };
  store: { budgetMB: number; minFreeMB: number; blobPoolMB: number; warnPercent: number; criticalPercent: number; captureMB: number };
  retention: { deliveredDays: number; personalHours: number; imagesDays: number; personalMaxDays: number; personalAlarmPercent: number };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
  destinations: Record<string, DestinationConfig>;
  devices: Record<string, DeviceConfig>;
}

export interface DestinationConfig {
  type: string;
  enabled: boolean;
  window: number;
  ordered: boolean;
  attemptTimeoutSeconds: number;
  /** Hold an order key's (a study's) items until it received nothing for this long (0: none). */
  stableSeconds?: number;
  /** Items per request, for destinations that deliver in batches (STOW-RS); 1: one at a time. */
  batchSize?: number;
  batchMaxBytes?: number;
  backoff?: { initialSeconds: number; maxSeconds: number; jitter: number };
  [field: string]: unknown;
}

export interface DeviceConfig {
  driver: string;
  enabled: boolean;
  name?: string;
  routes: string[];
  timezone: string;
  capture: boolean;
  [field: string]: unknown;
}

/** One problem in a configuration file, located for a person with an editor. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted field path, e.g. devices.xn1.port */
  field: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column} ${p.field || '(top level)'}: ${p.message}`;
}

/** A warning as a problem line with `warning: ` before its message (the console translates both). */
export function formatWarning(p: ConfigProblem): string {
  return formatProblem({ ...p, message: `warning: ${p.message}` });
}
