import { HIS_UNREACHABLE_MESSAGE, type HisIdentity, type InsuranceStatus, type LookupResult } from './contract.ts';
import { insuranceStatusFrom } from './httpHis.ts';
import { scrubPersonal } from './scrub.ts';

/**
 * Direct look-up at the Vietnam Social Security gateway, for stations without a HIS: a token
 * call, then the 2024 card-history function `KQNhanLichSuKCB2024`. The look-up runs on a
 * personal staff account (`hoTenCb`, `cccdCb`), and the box's IP address must be registered with
 * the gateway. Paths are configurable because the gateway's published URLs have changed before.
 */
export interface VssGatewayConfig {
  baseUrl: string;
  username: string;
  password: string;
  /** hoTenCb: full name of the staff member whose account runs the look-up. */
  staffName: string;
  /** cccdCb: that staff member's 12-digit CCCD. */
  staffCccd: string;
  tokenPath?: string;
  lookupPath?: string;
  timeoutMs?: number;
  /** Used when the token answer carries no usable expiry. */
  tokenLifetimeSeconds?: number;
}

interface GatewayToken {
  accessToken: string;
  idToken: string;
  expiresAtMs: number;
}

/** yyyy-mm-dd → dd/mm/yyyy; a birth year alone stays as it is (cards of people born before records had a day). */
export function gatewayDate(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : iso;
}

export class VssGatewayClient {
  private token: GatewayToken | null = null;

  constructor(
    private readonly config: VssGatewayConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Forget the cached token (the gateway answered 401). */
  invalidateToken(): void {
    this.token = null;
  }

  private url(path: string): string {
    return this.config.baseUrl.replace(/\/+$/, '') + path;
  }

  private async post(
    path: string,
    query: Record<string, string>,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<{ status: number; json: Record<string, unknown> | null }> {
    const qs = new URLSearchParams(query).toString();
    const timeout = AbortSignal.timeout(this.config.timeoutMs ?? 5_000);
    const res = await fetch(this.url(path) + (qs ? `?${qs}` : ''), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const text = await res.text().catch(() => '');
    let json: Record<string, unknown> | null = null;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object') json = parsed as Record<string, unknown>;
    } catch {
      json = null;
    }
    return { status: res.status, json };
  }

  private async getToken(signal?: AbortSignal): Promise<GatewayToken | { code: string }> {
    if (this.token && this.token.expiresAtMs > this.now()) return this.token;
    const { status, json } = await this.post(
      this.config.tokenPath ?? '/api/token/take',
      {},
      { username: this.config.username, password: this.config.password },
      signal,
    );
    // A gateway that fails (5xx, a proxy's HTML page) is unreachable, not an authentication answer.
    if (status >= 500 || !json) throw new Error(`token call answered HTTP ${status}`);
    const key = json.APIKey as Record<string, unknown> | undefined;
    const code = String(json.maKetQua ?? status);
    if (!key || typeof key.access_token !== 'string' || (code !== '200' && code !== '000')) return { code: code === '200' ? '401' : code };
    // expires_in is a date-time in the gateway's answers and seconds in some proxies; keep a minute's margin.
    const expires = key.expires_in;
    let expiresAtMs = this.now() + (this.config.tokenLifetimeSeconds ?? 1800) * 1000;
    if (typeof expires === 'number') expiresAtMs = this.now() + expires * 1000;
    else if (typeof expires === 'string' && !Number.isNaN(Date.parse(expires))) expiresAtMs = Date.parse(expires);
    this.token = { accessToken: key.access_token, idToken: String(key.id_token ?? ''), expiresAtMs: expiresAtMs - 60_000 };
    return this.token;
  }

  /** One card-history look-up; a 401 with a cached token fetches a new token and asks once more. */
  async getInsuranceStatus(identity: HisIdentity, signal?: AbortSignal): Promise<LookupResult<InsuranceStatus>> {
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const hadToken = this.token !== null;
        const token = await this.getToken(signal);
        if ('code' in token) return { ok: true, value: insuranceStatusFrom({ code: token.code }) };
        const { status, json } = await this.post(
          this.config.lookupPath ?? '/api/egw/KQNhanLichSuKCB2024',
          { token: token.accessToken, id_token: token.idToken, username: this.config.username, password: this.config.password },
          {
            maThe: identity.idNumber,
            hoTen: identity.fullName,
            ngaySinh: gatewayDate(identity.dateOfBirth),
            hoTenCb: this.config.staffName,
            cccdCb: this.config.staffCccd,
          },
          signal,
        );
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
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      const what = (err as Error).name === 'TimeoutError' ? 'no answer in time' : (cause ?? (err as Error).message);
      return { ok: false, reason: 'unreachable', message: `insurance gateway: ${scrubPersonal(what, identity)}`, patientMessage: HIS_UNREACHABLE_MESSAGE };
    }
  }
}
