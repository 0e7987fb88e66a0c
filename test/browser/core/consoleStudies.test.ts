// The console's studies tab against a running agent: a modality (DCMTK storescu) sends an image,
// one PACS (storescp) takes it and one is unreachable; the IT user sees the study with the
// patient's Vietnamese name and, per instance, delivered to one and pending for the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { requireTool, runTool, startStorescp } from '../../integration/dicom/dcmtkPeers.ts';
import { syntheticPart10, VN_PATIENT } from '../../unit/dicom/dataFixtures.ts';
import { consolePage, launchChromium } from '../../helpers/browser.ts';
import { freePort } from '../../helpers/ports.ts';
import { startTestAgent, type TestAgent } from '../../helpers/testAgent.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

const SHOTS = 'test-artifacts/screenshots';
const STUDY = '1.2.826.0.1.3680043.10.88';
const pacsDir = tempDir('console-pacs-');
let box: TestAgent;
let pacs: { stop(): Promise<void> };
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  requireTool('storescu', 'dcmtk');
  const [pacsPort, scpPort, deadPort] = [await freePort(), await freePort(), await freePort()];
  pacs = await startStorescp(pacsDir.dir, pacsPort);
  box = await startTestAgent(
    'console-dicom',
    `devices:
  us1: { driver: dicom-scp, host: 127.0.0.1, port: ${scpPort}, aeTitle: EDGE, allowedCallers: [{ aeTitle: US01, addresses: [127.0.0.1] }], routes: [pacs, pacs-tinh] }
destinations:
  pacs: { type: dicom-cstore, host: 127.0.0.1, port: ${pacsPort}, calledAe: PACS }
  pacs-tinh: { type: dicom-cstore, host: 127.0.0.1, port: ${deadPort}, calledAe: PACS, backoff: { initialSeconds: 60 } }
`,
  );
  const file = join(pacsDir.dir, 'sent.dcm');
  writeFileSync(file, syntheticPart10({ studyUid: STUDY, seriesUid: `${STUDY}.1`, sopInstanceUid: `${STUDY}.1.1`, patientId: 'BN0088', modality: 'US' }));
  const sent = await runTool('storescu', ['-aet', 'US01', '-aec', 'EDGE', '127.0.0.1', String(scpPort), file]);
  expect(sent.code, sent.stderr).toBe(0);
  const cookie = await box.login();
  await waitFor(
    async () => {
      const r = (await (await fetch(`${box.url}/api/studies`, { headers: { cookie } })).json()) as {
        studies: Array<{ forwarding: { done: number; pending: number } }>;
      };
      return r.studies[0]?.forwarding.done === 1 && r.studies[0].forwarding.pending === 1;
    },
    'delivered to one PACS, pending for the other',
    20_000,
    100,
  );
  ({ browser, close: closeBrowser } = await launchChromium());
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await closeBrowser?.();
  await box?.close();
  await pacs?.stop();
  pacsDir.cleanup();
});

describe('console studies tab', () => {
  it('lists the study with the Vietnamese name and shows each instance per PACS', async () => {
    const page = await consolePage(browser, box.url);
    await page.click('[data-tab=studies]');
    const studyRow = page.locator('#studies tr', { hasText: 'BN0088' });
    await studyRow.waitFor();
    const cells = await studyRow.locator('td').allTextContents();
    expect(cells[2]).toBe(VN_PATIENT.replace('^', ' ')); // DICOM's name separator shown as a space
    expect(cells[4]).toBe('US');
    expect(cells[6]).toBe('Chờ gửi (1/2)');
    await studyRow.click();
    const instance = page.locator('#study-instances tr').first();
    await instance.waitFor();
    const text = await instance.textContent();
    expect(text).toContain('pacs: Đã gửi');
    expect(text).toMatch(/pacs-tinh: Chờ gửi ×1 — .+/);
    expect(await page.textContent('#study-title')).toContain(STUDY);
    await page.screenshot({ path: `${SHOTS}/console-studies.png`, fullPage: true });

    // The state filter asks the API: nothing parked here.
    await page.selectOption('#studies-filter select[name=state]', 'parked');
    await page.click('#studies-filter button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#studies tr').length === 0);
    await page.close();
  });

  it('lists the order cache: the imaging order the HIS pushed, with its station, found by patient id', async () => {
    const cookie = await box.login();
    const post = (body: unknown) =>
      fetch(`${box.url}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: box.url }, body: JSON.stringify(body) });
    expect(
      (
        await post({
          orderId: 'HIS-77',
          accessionNumber: 'CT-77',
          patient: { hisPatientId: 'BN0077', fullName: 'Lê Thị Mai' },
          items: [{ code: 'CT01', name: 'CT sọ não', modality: 'CT' }],
          scheduled: { at: '2026-12-03T09:10:00+07:00', stationAeTitle: 'CT_KHOA_A', location: 'P.012' },
        })
      ).status,
    ).toBe(200);
    expect((await post({ orderId: 'HIS-78', accessionNumber: 'SID-78', patient: { hisPatientId: 'BN0078' }, items: [{ code: 'GLU' }] })).status).toBe(200);
    const page = await consolePage(browser, box.url);
    await page.click('[data-tab=orders]');
    const orderRow = page.locator('#orders tr', { hasText: 'BN0077' });
    await orderRow.waitFor();
    const cells = await orderRow.locator('td').allTextContents();
    expect(cells.slice(1, 5)).toEqual(['CT-77', 'BN0077', 'Lê Thị Mai', 'CT01 CT sọ não (CT)']);
    expect(cells[5]).toBe('09:10:00 3/12/2026 · CT_KHOA_A · P.012'); // the scheduled time in the hospital's zone
    expect(await page.locator('#orders tr').count()).toBe(2);
    await page.screenshot({ path: `${SHOTS}/console-orders.png`, fullPage: true });
    await page.fill('#orders-filter input[name=q]', 'BN0078');
    await page.click('#orders-filter button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#orders tr').length === 1);
    expect(await page.textContent('#orders')).toContain('SID-78');
    expect(await page.textContent('#orders-total')).toBe('1 đang hiện trên tổng số 1');

    // The HIS cancels the CT: still listed, marked cancelled in Vietnamese (no longer on the worklist).
    expect((await post({ orderId: 'HIS-77', action: 'cancel', orderedAt: '2026-12-03T09:30:00+07:00' })).status).toBe(200);
    await page.fill('#orders-filter input[name=q]', 'BN0077');
    await page.click('#orders-filter button[type=submit]');
    await expect.poll(() => page.textContent('#orders')).toContain('Đã huỷ chỉ định');
    expect(await page.textContent('#orders')).toContain('CT01');
    await page.screenshot({ path: `${SHOTS}/console-orders-cancelled.png`, fullPage: true });
    await page.close();
  });
});
