import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { EventBus } from '../../../core/contract/events.ts';
import type { DriverContext } from '../../../core/contract/driver.ts';
import { CardError, patientMessageOf, patientMessages, plainMessages } from '../../../modules/cccd/errors.ts';
import { QrScannerDriver } from '../../../modules/cccd/qrScanner.ts';
import type { CardStatusEvent } from '../../../modules/cccd/readerDriver.ts';

/** Words of the drivers' English sentences; none may appear in what a patient reads. */
const ENGLISH = /\b(the|is|not|this|card|code|number|please|scan|tap|reader)\b/i;

describe('what the patient reads for a card or scan failure (Vietnamese only)', () => {
  it('every error code has a Vietnamese sentence, with no English in it', () => {
    expect(Object.keys(patientMessages).sort()).toEqual(Object.keys(plainMessages).sort());
    for (const [code, text] of Object.entries(patientMessages)) {
      expect(text, code).not.toMatch(ENGLISH);
      expect(text, code).toMatch(/[ăâđêôơưàáảãạèéẻẽẹìíỉĩịòóỏõọùúủũụỳýỷỹỵ]/i);
    }
    expect(patientMessageOf(new CardError('CARD_REMOVED', 'card removed during read'))).toBe(patientMessages.CARD_REMOVED);
    expect(patientMessageOf(new Error('anything'))).not.toMatch(ENGLISH);
  });

  it('the serial QR scanner publishes the Vietnamese sentence beside its English one', () => {
    const bus = new EventBus();
    const statuses: CardStatusEvent[] = [];
    bus.on('test', 'domain.event', (e) => {
      if (e.topic === 'card/status') statuses.push(e.body as CardStatusEvent);
    });
    const ctx = { id: 'qr', bus, log: pino({ level: 'silent' }), setStatus: () => undefined } as unknown as DriverContext;
    const d = new QrScannerDriver(ctx, { path: '/dev/null' } as never);
    d.onText('this-is-not-a-citizen-card-but-a-long-text');
    d.onText('123456789012|123456789|Phạm Văn Cụ|02021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021');
    expect(statuses.map((s) => s.code)).toEqual(['QR_NOT_CCCD', 'QR_NOT_CCCD']);
    expect(statuses[0]!.message).toMatch(/not a CCCD QR code/);
    expect(statuses[0]!.patientMessage).toBe('Không đọc được mã QR trên thẻ CCCD.');
    expect(statuses[1]!.patientMessage).toMatch(/^Số CCCD không đúng: 3 số đầu là mã tỉnh/);
  });
});
