import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
/**
 * Plays the Vietnam Social Security gateway: `POST /api/token/take` and
 * `POST /api/egw/KQNhanLichSuKCB2024`. Every maKetQua is selectable by synthetic CCCD: a maThe
 * of `079099000` followed by a 3-digit code answers that code (079099000010 → 010, expired).
 * Any other 12-digit number answers 000 with a card valid for the current year.
 */
/** Synthetic CCCD whose look-up answers `code` (a 3-digit maKetQua). */
export function syntheticCccdFor(code) {
    return `079099000${code.padStart(3, '0')}`;
}
function read(req) {
    return new Promise((resolve) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
}
function dmy(d) {
    return `${String(d.getUTCDate()).padStart(2, '0')}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${d.getUTCFullYear()}`;
}
export async function startVssGateway(options = {}) {
    const host = options.host ?? '127.0.0.1';
    const username = options.username ?? 'bv-demo';
    const password = options.password ?? 'demo-password';
    const tokens = new Map();
    const sim = {
        tokenCalls: 0,
        lookups: [],
    };
    const send = (res, status, body) => {
        const reply = () => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (options.delayMs)
            setTimeout(reply, options.delayMs);
        else
            reply();
    };
    const server = createServer(async (req, res) => {
        const text = await read(req);
        const url = new URL(req.url ?? '/', `http://${host}`);
        let body = {};
        try {
            body = JSON.parse(text || '{}');
        }
        catch {
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
                APIKey: { access_token: access, id_token: randomBytes(8).toString('hex'), token_type: 'Bearer', username, expires_in: new Date(expiresAt).toISOString() },
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
            const record = { maThe, hoTen: String(body.hoTen ?? ''), ngaySinh: String(body.ngaySinh ?? ''), hoTenCb: String(body.hoTenCb ?? ''), cccdCb: String(body.cccdCb ?? ''), maKetQua: '' };
            let code;
            if (!/^\d{12}$|^[A-Z]{2}\d{13}$/.test(maThe) || !record.hoTen || !/^(\d{2}\/\d{2}\/)?\d{4}$/.test(record.ngaySinh))
                code = '205';
            else if (options.staff && record.hoTenCb !== options.staff.name)
                code = '055';
            else if (options.staff && record.cccdCb !== options.staff.cccd)
                code = '054';
            else if (maThe.startsWith('079099000'))
                code = maThe.slice(9);
            else
                code = '000';
            record.maKetQua = code;
            sim.lookups.push(record);
            const year = new Date().getUTCFullYear();
            const answer = { maKetQua: code, ghiChu: `Kết quả ${code}` };
            if (['000', '001', '002', '003', '004', '010'].includes(code)) {
                Object.assign(answer, {
                    maThe: `DN47979${maThe.slice(-8)}`,
                    hoTen: record.hoTen,
                    ngaySinh: record.ngaySinh,
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
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, host, () => resolve());
    });
    const port = server.address().port;
    return Object.assign(sim, {
        url: `http://${host}:${port}`,
        port,
        expireTokens: () => tokens.clear(),
        stop: async () => {
            server.closeAllConnections();
            await new Promise((r) => server.close(() => r()));
        },
    });
}
// `tsx test/sim/vssGateway.ts --port 8091` runs it on its own.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
    const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 8091);
    startVssGateway({ port }).then((s) => console.log(`VSS gateway simulator on ${s.url} (user bv-demo / demo-password; CCCD 079099000<code> selects maKetQua)`));
}
