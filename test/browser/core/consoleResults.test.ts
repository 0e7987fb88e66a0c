// The console's results tab shows what the analyzer sent: value text, flags and its comments as
// sent, "not measured" placeholders, and where each result went (issue #16, point 5).
import { mkdirSync } from 'node:fs';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../core/controller.ts';
import { writeAgentConfig } from '../../helpers/agentConfig.ts';
import { consolePage, launchChromium } from '../../helpers/browser.ts';
import { hl7Fixture } from '../../helpers/hl7Fixtures.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { MODULES } from '../../../modules/index.ts';

const { dir, cleanup } = tempDir('edge-console-results-');
let agent: Agent;
let sink: HttpSink;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let base: string;
const SHOTS = 'test-artifacts/screenshots';

beforeAll(async () => {
  sink = await startHttpSink();
  const hl7Port = await freePort();
  agent = new Agent({
    modules: MODULES,
    configFile: await writeAgentConfig(dir, {
      sinkUrl: sink.url,
      extra: `  abg:\n    driver: hl7-mllp\n    name: Máy khí máu\n    host: 127.0.0.1\n    port: ${hl7Port}\n    routes: [central]`,
    }),
    log: pino({ level: 'silent' }),
  });
  await agent.start();
  base = `http://127.0.0.1:${agent.httpPort}`;
  const client = await TestMllpClient.open(hl7Port);
  expect(msa(await client.send(hl7Fixture('synthetic_bloodgas_v22.hl7'))).code).toBe('AA');
  client.close();
  ({ browser, close: closeBrowser } = await launchChromium());
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await closeBrowser?.();
  await agent?.stop();
  await sink?.stop();
  cleanup();
});

describe('console: lab results', () => {
  it('lists every result with its value as sent, flags, comments and forwarding, and finds a specimen', async () => {
    const page = await consolePage(browser, base);
    await page.click('[data-tab=results]');
    await page.waitForFunction(() => document.querySelectorAll('#results tr').length === 21);
    const rows = await page.$$eval('#results tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));
    const byTest = (name: string) => rows.find((r) => r[3] === name)!;
    expect(byTest('FO2Hb').slice(4, 9)).toEqual(['..... % (không đo được)', '', '', 'X', 'E118 oximetry module: dirty cuvette']);
    expect(byTest('pCO2(T)').slice(4, 6)).toEqual(['38.5 mmHg', 'N']);
    expect(byTest('cK+').slice(4, 6)).toEqual(['<1.5 mmol/L', '<']);
    expect(byTest('pH')[9]).toMatch(/^central: /);
    await page.setViewportSize({ width: 1400, height: 1100 });
    await page.screenshot({ path: `${SHOTS}/console-results.png`, fullPage: false });
    await page.fill('#results-filter input[name=specimen]', 'NO-SUCH-SPECIMEN');
    await page.click('#results-filter button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#results tr').length === 0);
    await page.close();
  });
});
