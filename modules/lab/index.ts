import type { EdgeModule } from '../../core/contract/module.ts';
import { ORDER_CACHE_SERVICE, SqliteOrderCache } from './orderCache.ts';

export { ORDER_CACHE_SERVICE, SqliteOrderCache, type LabOrder, type OrderCache } from './orderCache.ts';
export { LAB_PROFILES, labProfile, type LabDeviceProfile } from './profiles.ts';

/**
 * What the ASTM and HL7 analyzers share: the order cache (orders from the LIS and the HIS, kept
 * on the box so host queries and the worklist are answered offline), purged with personal data.
 */
export const labModule: EdgeModule = {
  name: 'lab',
  provides: [ORDER_CACHE_SERVICE],
  start(ctx) {
    const orders = new SqliteOrderCache(ctx.db);
    ctx.services.provide(ORDER_CACHE_SERVICE, orders);
    // Orders carry names and birth dates: gone once not updated within the personal-data retention.
    return { retention: (nowMs) => ({ ordersPurged: orders.purgeOlderThan(nowMs - ctx.config.retention.personalHours * 3_600_000) }) };
  },
};
