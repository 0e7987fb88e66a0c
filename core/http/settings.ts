import type { TlsServerSettings } from '../net/tls.ts';
import type { Account } from './auth.ts';

/** Who may see /metrics or /openapi.json. */
export type Exposure = 'off' | 'login' | 'open';

/** Guessing protection for logins (config `http.login`; see the schema for the meaning). */
export interface LoginPolicy {
  backoffAfter: number;
  lockAfter: number;
  addressBackoffAfter: number;
  addressLockAfter: number;
  backoffSeconds: number;
  lockMinutes: number;
}

/** Bounds of the HTTP server (config `http.limits`). */
export interface HttpLimits {
  maxConnections: number;
  maxConnectionsPerPeer: number;
  bodyKB: number;
  headersTimeoutSeconds: number;
  requestTimeoutSeconds: number;
  keepAliveSeconds: number;
  webSocketMaxPayloadKB: number;
}

/** The `http` block as the agent uses it (defaults filled by the schema). */
export interface HttpSettings {
  host: string;
  port: number;
  tls?: TlsServerSettings;
  loopbackPort?: number;
  caCert?: string;
  allowedPeers?: string[];
  allowedHosts?: string[];
  sessionHours: number;
  sessionIdleMinutes?: number;
  login?: Partial<LoginPolicy>;
  auditDays?: number;
  metrics?: Exposure;
  openapi?: Exposure;
  limits?: Partial<HttpLimits>;
  admin?: { user: string; passwordHash?: string };
  accounts?: Account[];
}

export const DEFAULT_LOGIN_POLICY: LoginPolicy = {
  backoffAfter: 5,
  lockAfter: 10,
  addressBackoffAfter: 10,
  addressLockAfter: 30,
  backoffSeconds: 1,
  lockMinutes: 15,
};

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxConnections: 256,
  maxConnectionsPerPeer: 32,
  bodyKB: 1024,
  headersTimeoutSeconds: 10,
  requestTimeoutSeconds: 60,
  keepAliveSeconds: 5,
  webSocketMaxPayloadKB: 64,
};

/** Settings built in code (tests, tools) may leave out what the schema would fill. */
export function httpLimits(http: Pick<HttpSettings, 'limits'>): HttpLimits {
  return { ...DEFAULT_HTTP_LIMITS, ...(http.limits ?? {}) };
}

export function loginPolicy(http: Pick<HttpSettings, 'login'>): LoginPolicy {
  return { ...DEFAULT_LOGIN_POLICY, ...(http.login ?? {}) };
}
