import type { DriverFactory } from './contract/driver.ts';
import type { EdgeModule } from './contract/module.ts';
import type { DestinationFactory } from './contract/destination.ts';
import { httpJsonDestinationFactory } from './forward/httpJson.ts';
import { mqttUplinkDestinationFactory } from './forward/mqttUplink.ts';

/**
 * Protocol drivers and destination kinds by their configuration `driver`/`type` name: the
 * core's own destinations, then every module's (`registerModules`, called by the composition
 * root before anything is configured). A new device family is a module with its factories.
 */
export const driverFactories = new Map<string, DriverFactory<never>>();

export const destinationFactories = new Map<string, DestinationFactory<never>>([
  [httpJsonDestinationFactory.type, httpJsonDestinationFactory],
  [mqttUplinkDestinationFactory.type, mqttUplinkDestinationFactory],
]);

/** The modules the composition root registered (the configuration check asks them too). */
export const registeredModules: EdgeModule[] = [];

export function registerModules(modules: readonly EdgeModule[]): void {
  for (const m of modules) {
    if (!registeredModules.includes(m)) registeredModules.push(m);
    for (const d of m.drivers ?? []) driverFactories.set(d.type, d);
    for (const d of m.destinations ?? []) destinationFactories.set(d.type, d);
  }
}

/** The streams a configured destination takes from devices (undefined: the default set, see routesTaking). */
export function destinationStreams(destinations: Record<string, { type: string }>, id: string): string[] | undefined {
  const d = destinations[id];
  const factory = d && (destinationFactories.get(d.type) as { streams?(c: unknown): string[] } | undefined);
  return factory?.streams?.(d);
}
