import { HIS_UNREACHABLE_MESSAGE } from "./contract.js";
import { insuranceStatusFrom } from "./httpHis.js";
import { scrubPersonal } from "./scrub.js";
/** yyyy-mm-dd → dd/mm/yyyy; a birth year alone stays as it is (cards of people born before records had a day). */
export function gatewayDate(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
    return m ? `${m[3]}/${m[2]}/${m[1]}` : iso;
}
export class VssGatewayClient {
    config;
    now;
    token = null;
    constructor(config, now = Date.now) {
        this.config = config;
        this.now = now;
    }
    /** Forget the cached token (the gateway answered 401). */
    invalidateToken() {
        this.token = null;
    }
    url(path) {
        return this.config.baseUrl.replace(/\/+$/, '') + path;
    }
    async post(path, query, body, signal) {
        const qs = new URLSearchParams(query).toString();
        const timeout = AbortSignal.timeout(this.config.timeoutMs ?? 5_000);
        const res = await fetch(this.url(path) + (qs ? `?${qs}` : ''), {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify(body),
            signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
        const text = await res.text().catch(() => '');
        let json = null;
        try {
            const parsed = JSON.parse(text);
            if (parsed && typeof parsed === 'object')
                json = parsed;
        }
        catch {
            json = null;
        }
        return { status: res.status, json };
    }
    async getToken(signal) {
        if (this.token && this.token.expiresAtMs > this.now())
            return this.token;
        const { status, json } = await this.post(this.config.tokenPath ?? '/api/token/take', {}, { username: this.config.username, password: this.config.password }, signal);
        // A gateway that fails (5xx, a proxy's HTML page) is unreachable, not an authentication answer.
        if (status >= 500 || !json)
            throw new Error(`token call answered HTTP ${status}`);
        const key = json.APIKey;
        const code = String(json.maKetQua ?? status);
        if (!key || typeof key.access_token !== 'string' || (code !== '200' && code !== '000'))
            return { code: code === '200' ? '401' : code };
        // expires_in is a date-time in the gateway's answers and seconds in some proxies; keep a minute's margin.
        const expires = key.expires_in;
        let expiresAtMs = this.now() + (this.config.tokenLifetimeSeconds ?? 1800) * 1000;
        if (typeof expires === 'number')
            expiresAtMs = this.now() + expires * 1000;
        else if (typeof expires === 'string' && !Number.isNaN(Date.parse(expires)))
            expiresAtMs = Date.parse(expires);
        this.token = { accessToken: key.access_token, idToken: String(key.id_token ?? ''), expiresAtMs: expiresAtMs - 60_000 };
        return this.token;
    }
    /** One card-history look-up; a 401 with a cached token fetches a new token and asks once more. */
    async getInsuranceStatus(identity, signal) {
        try {
            for (let attempt = 0; attempt < 2; attempt++) {
                const hadToken = this.token !== null;
                const token = await this.getToken(signal);
                if ('code' in token)
                    return { ok: true, value: insuranceStatusFrom({ code: token.code }) };
                const { status, json } = await this.post(this.config.lookupPath ?? '/api/egw/KQNhanLichSuKCB2024', { token: token.accessToken, id_token: token.idToken, username: this.config.username, password: this.config.password }, { maThe: identity.idNumber, hoTen: identity.fullName, ngaySinh: gatewayDate(identity.dateOfBirth), hoTenCb: this.config.staffName, cccdCb: this.config.staffCccd }, signal);
                if (status >= 500 || !json)
                    return { ok: false, reason: 'unreachable', message: `gateway answered HTTP ${status}`, patientMessage: HIS_UNREACHABLE_MESSAGE };
                const code = String(json.maKetQua ?? status);
                if ((code === '401' || status === 401) && hadToken && attempt === 0) {
                    this.invalidateToken();
                    continue;
                }
                return {
                    ok: true,
                    value: insuranceStatusFrom({
                        code: code === '' ? String(status) : code,
                        cardNumber: json.maThe,
                        validFrom: json.gtTheTu,
                        validTo: json.gtTheDen,
                        registeredFacility: json.maDKBD,
                        newCardNumber: json.maTheMoi,
                    }),
                };
            }
            return { ok: true, value: insuranceStatusFrom({ code: '401' }) };
        }
        catch (err) {
            const cause = err.cause?.code;
            const what = err.name === 'TimeoutError' ? 'no answer in time' : (cause ?? err.message);
            return { ok: false, reason: 'unreachable', message: `insurance gateway: ${scrubPersonal(what, identity)}`, patientMessage: HIS_UNREACHABLE_MESSAGE };
        }
    }
}
