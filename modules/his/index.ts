import { serviceKey } from '../../core/contract/driver.ts';
import type { EdgeModule } from '../../core/contract/module.ts';
import { CheckInRegistrar as Registrar } from './checkInRegistrar.ts';
import type { HisLookup } from './contract.ts';
import { hisHl7DestinationFactory as hl7Destination } from './hl7Destination.ts';
import { hisHttpDestinationFactory as httpDestination } from './httpHis.ts';
import { createHisLookup as lookupFor, type HisLookupConfig } from './lookup.ts';
export * from './contract.ts';
export { describeInsuranceCode, type InsuranceOutcome } from './insuranceOutcome.ts';
export { HisHttpDestination, HttpHisLookup, hisHttpDestinationFactory, type HisHttpConfig } from './httpHis.ts';
export { HisHl7Destination, hisHl7DestinationFactory, type HisHl7Config } from './hl7Destination.ts';
export { buildAdtA04 } from './adtA04.ts';
export { VssGatewayClient, type VssGatewayConfig } from './vssGatewayClient.ts';
export { createHisLookup, type HisLookupConfig } from './lookup.ts';
export { HisOrderIntake, parseHisOrder, HisOrderError, hisCancelOf } from './orderIntake.ts';
export { CheckInRegistrar, type CheckInReceipt } from './checkInRegistrar.ts';

/** The kiosk's live look-ups (HIS and insurance), when `his.lookup` is configured. */
export const HIS_LOOKUP_SERVICE = serviceKey<HisLookup>('his.lookup');
/** Check-ins journaled for the HIS destination, when `his.checkinDestination` is configured. */
export const HIS_CHECKIN_SERVICE = serviceKey<Registrar>('his.checkin');

/** The hospital's HIS: its destinations (HTTP, HL7 ADT), the kiosk's look-ups and check-in registrar. */
export const hisModule: EdgeModule = {
  name: 'his',
  destinations: [httpDestination, hl7Destination],
  schema: { defs: [{ file: new URL('./schema.json', import.meta.url), properties: { his: { $ref: '#/$defs/his' } } }] },
  provides: [HIS_LOOKUP_SERVICE, HIS_CHECKIN_SERVICE],
  start(ctx) {
    const his = ctx.config.his;
    if (his?.lookup) ctx.services.provide(HIS_LOOKUP_SERVICE, lookupFor(his.lookup));
    if (his?.checkinDestination) ctx.services.provide(HIS_CHECKIN_SERVICE, new Registrar(ctx.journalFor('kiosk', []), his.checkinDestination));
    return undefined;
  },
};

// For the other modules (they import this index only).
export type { HisAppointment } from './contract.ts';
export type { InsuranceStatus } from './contract.ts';
export type { HisCheckIn } from './contract.ts';
export type { HisLookup } from './contract.ts';
export { HIS_UNREACHABLE_MESSAGE } from './contract.ts';
export { HIS_UNREACHABLE_NEXT_STEP } from './contract.ts';

declare module '../../core/config/types.ts' {
  interface ModuleConfigBlocks {
    /** The kiosk's HIS look-ups and check-in registration (schema $defs.his). */
    his?: { checkinDestination?: string; lookup?: HisLookupConfig };
  }
}
