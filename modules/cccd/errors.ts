/**
 * Every failure of a card read carries a code (searchable in logs and docs) and a plain
 * sentence the kiosk can show to a patient or to staff.
 */
export type CardErrorCode =
  | 'CARD_WRONG_KEY'
  | 'CARD_REMOVED'
  | 'CARD_NO_KEY'
  | 'CARD_NOT_CCCD'
  | 'CARD_ACCESS_DENIED'
  | 'CARD_SM_FAILED'
  | 'CARD_PROTOCOL'
  | 'CARD_REJECTED'
  | 'CARD_READER_MISSING'
  | 'CARD_SERVICE_DOWN'
  | 'CARD_PARSE';

export class CardError extends Error {
  readonly code: CardErrorCode;
  /** A Vietnamese sentence more precise than patientMessages[code] (a CCCD number that breaks its rule). */
  readonly patientMessage?: string;
  constructor(code: CardErrorCode, message: string, options?: { cause?: unknown; patientMessage?: string }) {
    super(message, options);
    this.name = 'CardError';
    this.code = code;
    if (options?.patientMessage) this.patientMessage = options.patientMessage;
  }
}

/** A structure that does not follow its standard: the only error a parser may throw. */
export class CardParseError extends CardError {
  constructor(message: string, patientMessage?: string) {
    super('CARD_PARSE', message, patientMessage ? { patientMessage } : undefined);
    this.name = 'CardParseError';
  }
}

export const plainMessages: Record<CardErrorCode, string> = {
  CARD_WRONG_KEY: 'The card refused the key: check the number, date of birth and expiry date, or scan the QR code again.',
  CARD_REMOVED: 'The card was removed before it was read. Please hold the card on the reader until the screen says done.',
  CARD_NO_KEY: 'Scan the QR code on the card or type the 12-digit number first, then tap the card again.',
  CARD_NOT_CCCD: 'This card is not a Vietnamese citizen ID card (CCCD).',
  CARD_ACCESS_DENIED: 'The card did not allow reading this data.',
  CARD_SM_FAILED: 'The secure connection to the card failed. Please tap the card again.',
  CARD_PROTOCOL: 'The card answered in an unexpected way. Please tap the card again or ask staff for help.',
  CARD_REJECTED: 'The card data failed the integrity check: it may have been altered. Please ask staff for help.',
  CARD_READER_MISSING: 'No card reader is connected. Please ask staff to check the reader cable.',
  CARD_SERVICE_DOWN: 'The card reader service (pcscd) is not running. Please ask staff for help.',
  CARD_PARSE: 'The card data could not be understood. Please ask staff for help.',
};

/**
 * What the patient reads on the kiosk for each failure (Vietnamese, plain words, what to do
 * next): the English sentences above are for staff, the CLI and the log, never for the screen.
 */
export const patientMessages: Record<CardErrorCode, string> = {
  CARD_WRONG_KEY: 'Chưa mở được thẻ bằng số đã quét hoặc đã nhập. Xin quét lại mã QR trên thẻ hoặc nhập lại số CCCD.',
  CARD_REMOVED: 'Thẻ được nhấc ra trước khi đọc xong. Xin đặt lại thẻ và giữ yên cho đến khi màn hình đổi.',
  CARD_NO_KEY: 'Để đọc thẻ, xin quét mã QR trên thẻ hoặc nhập số CCCD. Cứ để thẻ trên đầu đọc.',
  CARD_NOT_CCCD: 'Thẻ này không phải thẻ căn cước công dân (CCCD) gắn chip.',
  CARD_ACCESS_DENIED: 'Thẻ không cho phép đọc thông tin này. Xin nhờ nhân viên quầy tiếp đón giúp.',
  CARD_SM_FAILED: 'Chưa kết nối được với thẻ. Xin đặt lại thẻ lên đầu đọc.',
  CARD_PROTOCOL: 'Chưa đọc được thẻ. Xin đặt lại thẻ hoặc nhờ nhân viên giúp.',
  CARD_REJECTED: 'Thông tin trên thẻ không qua được bước kiểm tra. Xin nhờ nhân viên quầy tiếp đón giúp.',
  CARD_READER_MISSING: 'Đầu đọc thẻ chưa được nối với máy. Xin nhờ nhân viên giúp.',
  CARD_SERVICE_DOWN: 'Đầu đọc thẻ đang tạm ngừng. Xin nhờ nhân viên giúp.',
  CARD_PARSE: 'Chưa hiểu được thông tin trên thẻ. Xin nhờ nhân viên quầy tiếp đón giúp.',
};

/** A scanned text that is not a CCCD QR code (or lost characters on the way). */
export const QR_UNREADABLE_MESSAGE = 'Không đọc được mã QR trên thẻ CCCD.';
export const QR_UNREADABLE_NEXT_STEP = 'Xin quét lại mã QR, hoặc nhập số CCCD.';

/** The patient's sentence for any error a card read or a scan throws. */
export function patientMessageOf(err: unknown): string {
  if (err instanceof CardError) return err.patientMessage ?? patientMessages[err.code];
  return patientMessages.CARD_PROTOCOL;
}
