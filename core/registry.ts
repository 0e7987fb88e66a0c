import { astmDriverFactory } from '../modules/astm/index.ts';
import { astmLisDestinationFactory } from '../modules/astm/lisDestination.ts';
import { cccdReaderDriverFactory, qrScannerDriverFactory } from '../modules/cccd/index.ts';
import type { DriverFactory } from './contract/driver.ts';
import { hl7DriverFactory } from '../modules/hl7/index.ts';
import { hl7LisDestinationFactory } from '../modules/hl7/lisDestination.ts';
import { httpIngestDriverFactory } from '../modules/http-ingest/index.ts';
import { printerDriverFactory } from '../modules/printer/index.ts';
import { dicomCStoreDestinationFactory, dicomScpDriverFactory, dicomStowRsDestinationFactory } from '../modules/dicom/index.ts';
import type { DestinationFactory } from './forward/destination.ts';
import { httpJsonDestinationFactory } from './forward/httpJson.ts';
import { mqttUplinkDestinationFactory } from './forward/mqttUplink.ts';
import { hisHl7DestinationFactory, hisHttpDestinationFactory } from '../modules/his/index.ts';

/**
 * Protocol drivers and destination kinds by their configuration `driver`/`type` name. Adding a
 * device protocol is one line here plus its block in config/schema.json.
 */
export const driverFactories = new Map<string, DriverFactory<never>>([
  [httpIngestDriverFactory.type, httpIngestDriverFactory],
  [astmDriverFactory.type, astmDriverFactory],
  [cccdReaderDriverFactory.type, cccdReaderDriverFactory],
  [qrScannerDriverFactory.type, qrScannerDriverFactory],
  [hl7DriverFactory.type, hl7DriverFactory],
  [printerDriverFactory.type, printerDriverFactory],
  [dicomScpDriverFactory.type, dicomScpDriverFactory],
]);

export const destinationFactories = new Map<string, DestinationFactory<never>>([
  [httpJsonDestinationFactory.type, httpJsonDestinationFactory],
  [mqttUplinkDestinationFactory.type, mqttUplinkDestinationFactory],
  [astmLisDestinationFactory.type, astmLisDestinationFactory],
  [hisHttpDestinationFactory.type, hisHttpDestinationFactory],
  [hisHl7DestinationFactory.type, hisHl7DestinationFactory],
  [hl7LisDestinationFactory.type, hl7LisDestinationFactory],
  [dicomCStoreDestinationFactory.type, dicomCStoreDestinationFactory],
  [dicomStowRsDestinationFactory.type, dicomStowRsDestinationFactory],
]);

/** The streams a configured destination takes from devices (undefined: the default set, see routesTaking). */
export function destinationStreams(destinations: Record<string, { type: string }>, id: string): string[] | undefined {
  const d = destinations[id];
  const factory = d && (destinationFactories.get(d.type) as { streams?(c: unknown): string[] } | undefined);
  return factory?.streams?.(d);
}
