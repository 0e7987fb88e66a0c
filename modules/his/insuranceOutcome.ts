import type { InsuranceStatus } from './contract.ts';

/**
 * The Vietnam Social Security gateway's card-history result (`KQNhanLichSuKCB2024`, field
 * `maKetQua`) turned into what the kiosk says: one short plain-Vietnamese sentence, what to do
 * next, and a note for staff. Wording: short, no jargon ("thẻ BHYT", not "mã KCB"), never blames
 * the patient for gateway or staff-account problems.
 */
export interface InsuranceOutcome {
  code: string;
  category:
    | 'valid'
    | 'defence-or-police-fund'
    | 'replaced-card'
    | 'expired'
    | 'not-found'
    | 'name-mismatch'
    | 'birth-date-mismatch'
    | 'staff-identity'
    | 'gateway-error'
    | 'bad-parameters'
    | 'authentication'
    | 'unknown';
  verdict: InsuranceStatus['verdict'];
  patientMessage: string;
  nextStep: string;
  staffNote: string;
}

const DESK = 'Mời bạn đến quầy tiếp đón, nhân viên sẽ kiểm tra thẻ BHYT giúp bạn.';
const CANNOT_CHECK = 'Lúc này chưa kiểm tra được thẻ BHYT của bạn.';

function outcome(
  code: string,
  category: InsuranceOutcome['category'],
  verdict: InsuranceOutcome['verdict'],
  patientMessage: string,
  nextStep: string,
  staffNote: string,
): InsuranceOutcome {
  return { code, category, verdict, patientMessage, nextStep, staffNote };
}

/** Maps one maKetQua (as the gateway sends it: a 3-digit string) to the kiosk's wording. */
export function describeInsuranceCode(rawCode: string | number): InsuranceOutcome {
  const text = String(rawCode).trim();
  // Only a number is padded (10 → '010'); an empty or garbled code must never read as '000'.
  const code = /^\d{1,3}$/.test(text) ? text.padStart(3, '0') : text;
  const n = /^\d{3}$/.test(code) ? Number(code) : NaN;
  switch (code) {
    case '000':
      return outcome(code, 'valid', 'valid', 'Thẻ BHYT của bạn còn giá trị sử dụng.', 'Bạn chọn dịch vụ khám và lấy số như bình thường.', '000: card valid');
    case '001':
      return outcome(
        code,
        'defence-or-police-fund',
        'unknown',
        'Thẻ BHYT của bạn do Bảo hiểm xã hội Bộ Quốc phòng quản lý.',
        'Bạn lấy số, rồi đưa thẻ BHYT và giấy tờ tùy thân cho quầy tiếp đón kiểm tra.',
        '001: card managed by the Ministry of Defence social security fund; check the card and ID by hand',
      );
    case '002':
      return outcome(
        code,
        'defence-or-police-fund',
        'unknown',
        'Thẻ BHYT của bạn do Bảo hiểm xã hội Bộ Công an quản lý.',
        'Bạn lấy số, rồi đưa thẻ BHYT và giấy tờ tùy thân cho quầy tiếp đón kiểm tra.',
        '002: card managed by the Ministry of Public Security social security fund; check the card and ID by hand',
      );
    case '003':
      return outcome(
        code,
        'replaced-card',
        'valid',
        'Thẻ BHYT cũ của bạn đã được đổi sang thẻ mới, thẻ mới còn giá trị.',
        'Bạn lấy số như bình thường; bệnh viện sẽ dùng thông tin thẻ mới.',
        '003: old card replaced by a new card (new card number and validity returned)',
      );
    case '004':
      return outcome(
        code,
        'replaced-card',
        'valid',
        'Thẻ BHYT của bạn còn giá trị, và bạn đã được cấp thẻ mới.',
        'Bạn lấy số như bình thường; lần sau hãy dùng thẻ mới.',
        '004: old card still valid, a new card has been issued',
      );
    case '010':
      return outcome(
        code,
        'expired',
        'invalid',
        'Thẻ BHYT của bạn đã hết hạn sử dụng.',
        'Bạn vẫn được khám (tự trả phí); hãy gia hạn thẻ BHYT tại cơ quan BHXH hoặc đại lý thu.',
        '010: card expired',
      );
    case '054':
    case '055':
      return outcome(
        code,
        'staff-identity',
        'unknown',
        CANNOT_CHECK,
        DESK,
        `${code}: the staff account's name or CCCD (hoTenCb/cccdCb) does not match the gateway's records; fix the configured staff identity`,
      );
    case '205':
      return outcome(
        code,
        'bad-parameters',
        'unknown',
        CANNOT_CHECK,
        DESK,
        '205: the gateway rejected the request parameters (format of maThe/ngaySinh/hoTen)',
      );
    case '401':
      return outcome(
        code,
        'authentication',
        'unknown',
        CANNOT_CHECK,
        DESK,
        '401: gateway authentication failed (account, password, token or unregistered IP address)',
      );
  }
  if (n === 60 || n === 61 || (n >= 62 && n <= 69)) {
    return outcome(
      code,
      'name-mismatch',
      'invalid',
      'Họ tên trên thẻ BHYT không khớp với thông tin của bạn.',
      DESK,
      `${code}: name does not match the card's record`,
    );
  }
  if (n === 70) {
    return outcome(
      code,
      'birth-date-mismatch',
      'invalid',
      'Ngày sinh trên thẻ BHYT không khớp với thông tin của bạn.',
      DESK,
      "070: birth date does not match the card's record",
    );
  }
  if (n >= 50 && n <= 59) {
    return outcome(
      code,
      'not-found',
      'invalid',
      'Không tìm thấy thẻ BHYT theo số CCCD của bạn.',
      'Nếu bạn có thẻ BHYT, hãy đưa thẻ cho quầy tiếp đón; nếu không, bạn vẫn được khám (tự trả phí).',
      `${code}: card not found or card code does not match`,
    );
  }
  if (n >= 100 && n <= 199) {
    return outcome(code, 'gateway-error', 'unknown', CANNOT_CHECK, DESK, `${code}: gateway error or card withdrawn; check at the desk`);
  }
  return outcome(code, 'unknown', 'unknown', CANNOT_CHECK, DESK, `${code}: result code not known to this box`);
}
