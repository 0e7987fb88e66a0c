import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

/**
 * Plays the Vietnam Social Security gateway: `POST /api/token/take` and
 * `POST /api/egw/KQNhanLichSuKCB2024`. Every maKetQua is selectable by synthetic CCCD: a maThe
 * of `079099000` followed by a 3-digit code answers that code (079099000010 → 010, expired).
 * Any other 12-digit number answers 000 with a card valid for the current year.
 *
 * The real gateway needs the name and birth date with the number (205 without them), and a
 * number typed at the kiosk carries neither. The simulator knows its demo patients
 * (DEMO_PATIENTS) and the synthetic numbers, so these answer their outcome when typed too, as a
 * gateway that holds the person's record would; any other typed number answers 205, as the real
 * gateway does ("Lúc này chưa kiểm tra được thẻ BHYT").
 */

/** Synthetic CCCD whose look-up answers `code` (a 3-digit maKetQua). */
export function syntheticCccdFor(code: string): string {
  return `079099000${code.padStart(3, '0')}`;
}

/** One invented patient the demo's simulators know (README, "Demo CCCD numbers"). */
export interface DemoPatient {
  idNumber: string;
  fullName: string;
  /** dd/mm/yyyy, as the gateway writes it. */
  dateOfBirth: string;
  /** The gateway's answer (maKetQua) for this card. */
  code: string;
  /** What the kiosk shows for it in the demo (README table). */
  shows: string;
}

/**
 * The demo's patients, each with a number that follows the CCCD rule (province code, century
 * digit and birth year: modules/cccd/idNumber.ts) and the outcome the simulators give it.
 */
export const DEMO_PATIENTS: readonly DemoPatient[] = [
  { idNumber: '079190001234', fullName: 'Nguyễn Thị Hương', dateOfBirth: '15/03/1990', code: '000', shows: 'insurance valid' },
  {
    idNumber: '079085001234',
    fullName: 'Nguyễn Văn An',
    dateOfBirth: '07/03/1985',
    code: '000',
    shows: 'insurance valid and a booked appointment (Khám Nội 08:30)',
  },
  {
    idNumber: '001190005678',
    fullName: 'Trần Thị Bích Ngọc',
    dateOfBirth: '17/05/1990',
    code: '000',
    shows: 'insurance valid and two appointments (Xét nghiệm 09:00, X-quang 10:00)',
  },
  { idNumber: '079040001234', fullName: 'Phạm Văn Cụ', dateOfBirth: '02/02/1940', code: '000', shows: 'insurance valid; by QR the 75+ priority' },
  { idNumber: syntheticCccdFor('010'), fullName: 'Lê Văn Bình', dateOfBirth: '01/01/1999', code: '010', shows: 'insurance expired' },
  {
    idNumber: syntheticCccdFor('003'),
    fullName: 'Trần Văn Đức',
    dateOfBirth: '01/01/1999',
    code: '003',
    shows: 'old insurance card replaced by a new one, valid',
  },
  { idNumber: syntheticCccdFor('051'), fullName: 'Hoàng Văn Minh', dateOfBirth: '01/01/1999', code: '051', shows: 'no insurance card found' },
];

/** The outcome the simulators give a number: a demo patient's, a synthetic number's code, else 000. */
export function demoInsuranceCode(idNumber: string): string {
  const known = DEMO_PATIENTS.find((p) => p.idNumber === idNumber);
  if (known) return known.code;
  return idNumber.startsWith('079099000') ? idNumber.slice(9) : '000';
}

/** A number whose record the simulator holds (a demo patient or a synthetic outcome number). */
function knownRecord(idNumber: string): { fullName: string; dateOfBirth: string } | null {
  const known = DEMO_PATIENTS.find((p) => p.idNumber === idNumber);
  if (known) return known;
  return /^079099000\d{3}$/.test(idNumber) ? { fullName: 'Người Bệnh Thử', dateOfBirth: '01/01/1999' } : null;
}

export interface VssGatewayOptions {
  port?: number;
  host?: string;
  username?: string;
  password?: string;
  /** Token lifetime; the answer's expires_in carries it as a date-time, as the gateway does. */
  tokenTtlMs?: number;
  /** When set, the look-up checks the staff identity and answers 054/055 on a mismatch. */
  staff?: { name: string; cccd: string };
  delayMs?: number;
}

export interface VssLookupRecord {
  maThe: string;
  hoTen: string;
  ngaySinh: string;
  hoTenCb: string;
  cccdCb: string;
  maKetQua: string;
}

export interface VssGatewaySim {
  url: string;
  port: number;
  tokenCalls: number;
  lookups: VssLookupRecord[];
  /** Makes every issued token invalid now (as a gateway restart would). */
  expireTokens(): void;
  stop(): Promise<void>;
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function dmy(d: Date): string {
  return `${String(d.getUTCDate()).padStart(2, '0')}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${d.getUTCFullYear()}`;
}

export async function startVssGateway(options: VssGatewayOptions = {}): Promise<VssGatewaySim> {
  const host = options.host ?? '127.0.0.1';
  const username = options.username ?? 'bv-demo';
  const password = options.password ?? 'demo-password';
  const tokens = new Map<string, number>();
  const sim = {
    tokenCalls: 0,
    lookups: [] as VssLookupRecord[],
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const reply = () => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (options.delayMs) setTimeout(reply, options.delayMs);
    else reply();
  };

  const server: Server = createServer(async (req, res) => {
    const text = await read(req);
    const url = new URL(req.url ?? '/', `http://${host}`);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text || '{}') as Record<string, unknown>;
    } catch {
      send(res, 200, { maKetQua: '205', ghiChu: 'Tham số không hợp lệ' });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/token/take') {
      sim.tokenCalls++;
      if (body.username !== username || body.password !== password) {
        send(res, 200, { maKetQua: '401', ghiChu: 'Sai tên đăng nhập hoặc mật khẩu' });
        return;
      }
      const access = randomBytes(16).toString('hex');
      const expiresAt = Date.now() + (options.tokenTtlMs ?? 30 * 60_000);
      tokens.set(access, expiresAt);
      send(res, 200, {
        maKetQua: '200',
        APIKey: {
          access_token: access,
          id_token: randomBytes(8).toString('hex'),
          token_type: 'Bearer',
          username,
          expires_in: new Date(expiresAt).toISOString(),
        },
      });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/egw/KQNhanLichSuKCB2024') {
      const token = url.searchParams.get('token') ?? '';
      const exp = tokens.get(token);
      if (exp === undefined || exp <= Date.now()) {
        send(res, 200, { maKetQua: '401', ghiChu: 'Token hết hạn hoặc không hợp lệ' });
        return;
      }
      const maThe = String(body.maThe ?? '');
      const record: VssLookupRecord = {
        maThe,
        hoTen: String(body.hoTen ?? ''),
        ngaySinh: String(body.ngaySinh ?? ''),
        hoTenCb: String(body.hoTenCb ?? ''),
        cccdCb: String(body.cccdCb ?? ''),
        maKetQua: '',
      };
      // A typed number comes without name and birth date: a known record fills them in.
      const known = knownRecord(maThe);
      const hoTen = record.hoTen || known?.fullName || '';
      const ngaySinh = record.ngaySinh || known?.dateOfBirth || '';
      let code: string;
      if (!/^\d{12}$|^[A-Z]{2}\d{13}$/.test(maThe) || !hoTen || !/^(\d{2}\/\d{2}\/)?\d{4}$/.test(ngaySinh)) code = '205';
      else if (options.staff && record.hoTenCb !== options.staff.name) code = '055';
      else if (options.staff && record.cccdCb !== options.staff.cccd) code = '054';
      else code = demoInsuranceCode(maThe);
      record.maKetQua = code;
      sim.lookups.push(record);
      const year = new Date().getUTCFullYear();
      const answer: Record<string, unknown> = { maKetQua: code, ghiChu: `Kết quả ${code}` };
      if (['000', '001', '002', '003', '004', '010'].includes(code)) {
        Object.assign(answer, {
          maThe: `DN47979${maThe.slice(-8)}`,
          hoTen,
          ngaySinh,
          maDKBD: '79001',
          gtTheTu: code === '010' ? `01/01/${year - 2}` : `01/01/${year}`,
          gtTheDen: code === '010' ? dmy(new Date(Date.UTC(year - 1, 11, 31))) : `31/12/${year}`,
        });
        if (code === '003' || code === '004')
          Object.assign(answer, { maTheMoi: `GD47979${maThe.slice(-8)}`, gtTheTuMoi: `01/01/${year}`, gtTheDenMoi: `31/12/${year + 1}` });
      }
      send(res, 200, answer);
      return;
    }
    send(res, 404, { maKetQua: '404' });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return Object.assign(sim, {
    url: `http://${host}:${port}`,
    port,
    expireTokens: () => tokens.clear(),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}

// `tsx test/sim/vssGateway.ts --port 8091` runs it on its own.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 8091);
  startVssGateway({ port }).then((s) =>
    console.log(
      `VSS gateway simulator on ${s.url} (user bv-demo / demo-password; CCCD 079099000<code> selects maKetQua; demo patients: ${DEMO_PATIENTS.map((p) => `${p.idNumber} ${p.shows}`).join(', ')})`,
    ),
  );
}
