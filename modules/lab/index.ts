import type { EdgeModule } from '../../core/contract/module.ts';
import { createOrderCacheTables, indexOrdersByOrderId, ORDER_CACHE_SERVICE, SqliteOrderCache } from './orderCache.ts';
import { registerOrdersRoutes } from './ordersRoutes.ts';
import { registerResultsRoutes } from './resultsRoutes.ts';
import { LAB_PROFILES } from './profiles.ts';

export { ORDER_CACHE_SERVICE, SqliteOrderCache, type LabOrder, type OrderCache } from './orderCache.ts';
export { LAB_PROFILES, labProfile, type LabDeviceProfile } from './profiles.ts';

/**
 * What the ASTM and HL7 analyzers share: the order cache (orders from the LIS and the HIS, kept
 * on the box so host queries and the worklist are answered offline), purged with personal data.
 */
export const labModule: EdgeModule = {
  name: 'lab',
  provides: [ORDER_CACHE_SERVICE],
  // Step 1 is the table as the box has had it since orders were cached (created in place if absent).
  migrations: [
    { version: 1, description: 'lab_orders', up: createOrderCacheTables },
    { version: 2, description: 'orders by placer order number', up: indexOrdersByOrderId },
  ],
  profiles: Object.values(LAB_PROFILES).map((p) => ({ id: p.id, name: p.name, protocol: p.protocol })),
  start(ctx) {
    const orders = new SqliteOrderCache(ctx.db);
    ctx.services.provide(ORDER_CACHE_SERVICE, orders);
    // Orders carry names and birth dates: gone once not updated within the personal-data retention.
    return {
      // POST /api/orders (the HIS or LIS pushes orders) and GET /api/orders (the console's Orders tab).
      routes(app, api) {
        registerOrdersRoutes(app, ctx, api);
        // GET /api/results (did my result reach the LIS?) and the recovery of results the old identity rule merged.
        registerResultsRoutes(app, ctx, api.requireAdmin);
      },
      retention: (nowMs) => ({ ordersPurged: orders.purgeOlderThan(nowMs - ctx.config.retention.personalHours * 3_600_000) }),
    };
  },
  commands: [
    {
      name: 'results',
      usage: `  edge-agent results recover [--url URL] [--user admin] [--forward]
                                                list (and forward) results an analyzer was acknowledged
                                                for that the identity rule before 2026-12 merged away
`,
      run: async (argv) => (await import('./resultsCli.ts')).runResultsCli(argv),
    },
    {
      name: 'replay',
      usage: `  edge-agent replay FILE --to tcp://HOST:PORT [--astm|--mllp] [--frame-size N] [--timeout-ms N]
                                                re-send a raw capture (GET /api/captures/ID as
                                                application/octet-stream) as the device sent it
`,
      run: async (argv) => (await import('./replay.ts')).runReplay(argv),
    },
  ],
};

// For the other modules (they import this index only).
export { isLabTextEncoding } from './encoding.ts';
export type { LabTextEncoding } from './encoding.ts';
export type { LabQuirk } from './profiles.ts';
export { encodeText } from './encoding.ts';
export type { LabResult } from './result.ts';
export { isNotMeasured } from './result.ts';
export { numberOccurrences } from './result.ts';
export { patientFieldsOf } from './result.ts';
export { personName } from './result.ts';
export { resultIdentity } from './result.ts';
export type { LabReport } from './result.ts';
export type { PatientFacts } from './result.ts';
export type { PatientIdentifier } from './result.ts';
export { deviceTimeToIso } from './values.ts';
export { parseNumber } from './values.ts';
export { clockSkewAlarmFor } from './clockSkew.ts';
export { clockSkewSeconds } from './clockSkew.ts';
export { decodeText } from './encoding.ts';
export { reportIdentity } from './result.ts';
export { reportKeysOf } from './result.ts';
export type { ScheduledStep } from './orderCache.ts';
export { AE_TITLE } from './orderCache.ts';
export type { OrderCancel } from './orderCache.ts';
export type { ClockSkewAlarm } from './clockSkew.ts';
export type { PersonName } from './result.ts';
