// What a patient reads, and what the log keeps, when a scan or a number is refused at the kiosk
// (issue 17 items 2 and 3), against the running agent: the answer's `error` is Vietnamese, the
// parser's English reason is in the answer's `reason` and in the agent's (masked) log, and the
// card statuses the live socket sends are Vietnamese whatever the driver wrote for staff.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { createLogger } from '../../../core/log.ts';
import { KIOSK_TOKEN, startKioskAgent, type KioskAgent } from '../../helpers/kioskAgent.ts';
import { waitFor } from '../../helpers/wait.ts';

let k: KioskAgent;
const logLines: string[] = [];
const K1 = { 'x-kiosk-token': KIOSK_TOKEN, 'content-type': 'application/json' };

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  // The agent's own logger (the masking policy), into memory.
  k = await startKioskAgent({ log: createLogger('info', sink, null) });
});
afterAll(async () => k?.close());

async function identify(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${k.url}/api/kiosk/identify`, { method: 'POST', headers: K1, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** No English sentence of the parser or the drivers may reach a patient. */
const ENGLISH = /\b(the|is|not|this|card|code|number|please|scan|tap)\b/i;

describe('kiosk refusals: Vietnamese for the patient, the reason for IT staff', () => {
  it('a QR with a bad birth date: 400, a Vietnamese sentence, the English reason in `reason` and in the log, masked', async () => {
    const qr = '079040001234|123456789|Phạm Văn Cụ|31021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021';
    const r = await identify({ qr });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      error: 'Không đọc được mã QR trên thẻ CCCD.',
      code: 'QR_UNREADABLE',
      reason: 'the date of birth in the QR code is not a valid ddmmyyyy date',
    });
    await waitFor(() => logLines.some((l) => l.includes('kiosk identify refused')), 'the refusal logged');
    const line = logLines.find((l) => l.includes('kiosk identify refused'))!;
    expect(JSON.parse(line)).toMatchObject({
      code: 'QR_UNREADABLE',
      reason: 'the date of birth in the QR code is not a valid ddmmyyyy date',
      qrLength: qr.length,
    });
    for (const personal of ['079040001234', 'Phạm Văn Cụ', 'Phố Cổ', '123456789']) expect(line).not.toContain(personal);
  });

  it('123456789012 typed: 400 CCCD_NUMBER_INVALID, the rule said in Vietnamese', async () => {
    const r = await identify({ digits: '123456789012' });
    expect(r.status).toBe(400);
    expect(r.json.code).toBe('CCCD_NUMBER_INVALID');
    expect(r.json.error).toBe('Số CCCD không đúng: 3 số đầu là mã tỉnh nơi đăng ký khai sinh, không có mã 123. Xin xem lại số trên thẻ CCCD.');
    expect(r.json.reason).toMatch(/province code of birth registration/);
    // The box never passed the number on (no card key, no HIS look-up).
    expect(k.his.appointmentLookups).toBe(0);
  });

  it("card statuses on the live socket are the Vietnamese sentences, never the driver's English", async () => {
    const ws = new WebSocket(`${k.url.replace('http', 'ws')}/api/kiosk/live?token=${KIOSK_TOKEN}`);
    const got: Array<{ type: string; body: { state: string; message: string; code?: string } }> = [];
    ws.on('message', (m) => got.push(JSON.parse(String(m)) as (typeof got)[number]));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const bus = k.agent.bus;
    // As the reader driver and the serial scanner publish them (English for staff, Vietnamese beside it).
    bus.emit('domain.event', {
      visibility: 'local',
      topic: 'card/status',
      body: {
        state: 'need-key',
        message: 'Scan the QR code on the card or type the 12-digit number first, then tap the card again.',
        patientMessage: 'Để đọc thẻ, xin quét mã QR trên thẻ hoặc nhập số CCCD. Cứ để thẻ trên đầu đọc.',
        code: 'CARD_NO_KEY',
      },
    });
    // A status without a Vietnamese sentence (an older driver): the socket says something Vietnamese anyway.
    bus.emit('domain.event', {
      visibility: 'local',
      topic: 'card/status',
      body: {
        state: 'error',
        message: 'this is not a CCCD QR code: the first field is not a 12-digit number. Scan the QR code on the citizen ID card.',
        code: 'QR_NOT_CCCD',
      },
    });
    await waitFor(() => got.length >= 2, 'two card statuses on the socket');
    ws.close();
    expect(got.map((g) => g.body.message)).toEqual([
      'Để đọc thẻ, xin quét mã QR trên thẻ hoặc nhập số CCCD. Cứ để thẻ trên đầu đọc.',
      'Chưa đọc được thẻ. Xin đặt lại thẻ, quét mã QR hoặc nhập số CCCD.',
    ]);
    for (const g of got) expect(g.body.message).not.toMatch(ENGLISH);
  });
});
