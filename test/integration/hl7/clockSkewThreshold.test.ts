// The clock-skew alarm threshold is the device's `clockSkewAlarmSeconds`: an analyzer two minutes
// ahead raises it at 60 s and not at the default 300 s.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { EventBus } from '../../../core/contract/events.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { hl7DriverFactory, type Hl7Driver } from '../../../modules/hl7/index.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { tempDir } from '../../helpers/tmp.ts';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** HL7 DTM in Asia/Ho_Chi_Minh (UTC+7) for an instant. */
const vnTime = (ms: number) => new Date(ms + 7 * 3_600_000).toISOString().replace(/\D/g, '').slice(0, 14);

async function alarmsFor(config: Record<string, unknown>): Promise<Array<{ active: boolean; thresholdSeconds: number }>> {
  const tmp = tempDir('edge-skew-');
  const store: Store = await openStore({ dir: join(tmp.dir, 'store') });
  const bus = new EventBus();
  const alarms: Array<{ active: boolean; thresholdSeconds: number }> = [];
  bus.on('test', 'domain.event', (e) => {
    if (e.topic.endsWith('/alarm/clock-skew')) alarms.push(e.body as { active: boolean; thresholdSeconds: number });
  });
  const driver = hl7DriverFactory.create(makeDriverContext(store, { id: 'xn1', bus, routes: [] }), { host: '127.0.0.1', port: 0, ...config }) as Hl7Driver;
  await driver.start();
  cleanups.push(async () => {
    await driver.stop();
    store.close();
    tmp.cleanup();
  });
  const client = await TestMllpClient.open(driver.port);
  const ack = await client.send(`MSH|^~\\&|XN|LAB|||${vnTime(Date.now() + 120_000)}||ORU^R01|SKEW-1|P|2.5\rOBR|1||S1\rOBX|1|NM|WBC^WBC||6.1|10*9/L|||||F\r`);
  client.close();
  expect(msa(ack).code).toBe('AA');
  return alarms;
}

describe('clock-skew alarm threshold per device', () => {
  it('raises the alarm for a 120 s skew with clockSkewAlarmSeconds 60', async () => {
    expect(await alarmsFor({ clockSkewAlarmSeconds: 60 })).toMatchObject([{ active: true, thresholdSeconds: 60 }]);
  });

  it('stays quiet for the same skew with the default 300 s', async () => {
    expect(await alarmsFor({})).toEqual([]);
  });
});
