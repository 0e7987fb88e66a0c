export * from './contract.ts';
export { describeInsuranceCode, type InsuranceOutcome } from './insuranceOutcome.ts';
export { HisHttpDestination, HttpHisLookup, hisHttpDestinationFactory, type HisHttpConfig } from './httpHis.ts';
export { HisHl7Destination, hisHl7DestinationFactory, type HisHl7Config } from './hl7Destination.ts';
export { buildAdtA04 } from './adtA04.ts';
export { VssGatewayClient, type VssGatewayConfig } from './vssGatewayClient.ts';
export { createHisLookup, type HisLookupConfig } from './lookup.ts';
export { HisOrderIntake, parseHisOrder, HisOrderError } from './orderIntake.ts';
export { CheckInRegistrar, type CheckInReceipt } from './checkInRegistrar.ts';
