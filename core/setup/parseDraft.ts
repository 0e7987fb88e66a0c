import type { SetupDevice, SetupDraft } from './draft.ts';

/** A setup answer that is not even the right shape: 400 with the field, before anything is built. */
export class DraftError extends Error {
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'DraftError';
  }
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Obj, key: string, at: string, required = true): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new DraftError(`${at}.${key}`, 'chưa nhập');
    return undefined;
  }
  if (typeof v !== 'string' || v.length > 256) throw new DraftError(`${at}.${key}`, 'phải là chữ, tối đa 256 ký tự');
  // The draft's secrets travel as this marker until written: a typed one must not become a tag.
  if (v.includes('__secret__')) throw new DraftError(`${at}.${key}`, 'có chuỗi không được phép');
  return v.trim();
}

function port(o: Obj, key: string, at: string, required = true): number | undefined {
  const v = o[key];
  if ((v === undefined || v === null || v === '') && !required) return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) throw new DraftError(`${at}.${key}`, 'cổng phải là số từ 1 đến 65535');
  return n;
}

function oneOf<T extends string>(o: Obj, key: string, at: string, values: readonly T[]): T {
  const v = o[key];
  if (!values.includes(v as T)) throw new DraftError(`${at}.${key}`, `phải là một trong: ${values.join(', ')}`);
  return v as T;
}

export function parseDevice(v: unknown, at = 'device'): SetupDevice {
  if (!isObj(v)) throw new DraftError(at, 'phải là một thiết bị');
  const id = str(v, 'id', at)!;
  const kind = oneOf(v, 'kind', at, ['lab-astm', 'lab-hl7', 'modality', 'printer', 'card-reader'] as const);
  switch (kind) {
    case 'lab-astm': {
      const transport = oneOf(v, 'transport', at, ['serial', 'tcp-server', 'tcp-client'] as const);
      const base = { kind, id, profile: str(v, 'profile', at)!, transport };
      if (transport === 'serial') return { ...base, path: str(v, 'path', at)!, ...(v.baudRate ? { baudRate: port(v, 'baudRate', at, false)! } : {}) };
      if (transport === 'tcp-client') return { ...base, host: str(v, 'host', at)!, port: port(v, 'port', at)! };
      return { ...base, port: port(v, 'port', at)!, analyzer: str(v, 'analyzer', at)! };
    }
    case 'lab-hl7':
      return { kind, id, profile: str(v, 'profile', at)!, port: port(v, 'port', at)!, analyzer: str(v, 'analyzer', at)! };
    case 'modality':
      return {
        kind,
        id,
        aeTitle: str(v, 'aeTitle', at)!,
        port: port(v, 'port', at)!,
        callerAe: str(v, 'callerAe', at)!,
        callerAddress: str(v, 'callerAddress', at)!,
      };
    case 'printer': {
      const transport = oneOf(v, 'transport', at, ['tcp', 'device'] as const);
      return transport === 'device'
        ? { kind, id, transport, path: str(v, 'path', at)! }
        : { kind, id, transport, host: str(v, 'host', at)!, port: port(v, 'port', at, false) ?? 9100 };
    }
    case 'card-reader':
      return { kind, id, ...(str(v, 'readerName', at, false) ? { readerName: str(v, 'readerName', at, false)! } : {}) };
  }
}

/** The page's answers as a draft; the configuration loader checks the rest (ids, addresses, profiles). */
export function parseDraft(v: unknown): SetupDraft {
  if (!isObj(v) || !isObj(v.box)) throw new DraftError('box', 'thiếu thông tin cơ sở');
  const box = v.box;
  const password = v.adminPassword;
  if (typeof password !== 'string' || password.length < 10 || password.length > 128)
    throw new DraftError('adminPassword', 'mật khẩu quản trị phải có từ 10 đến 128 ký tự');
  if (!Array.isArray(v.devices) || v.devices.length > 64) throw new DraftError('devices', 'phải là danh sách (tối đa 64 thiết bị)');
  const draft: SetupDraft = {
    box: { id: str(box, 'id', 'box')!, facility: str(box, 'facility', 'box')!, timezone: str(box, 'timezone', 'box')! },
    adminPassword: password,
    devices: v.devices.map((d, i) => parseDevice(d, `devices[${i}]`)),
  };
  const name = str(box, 'name', 'box', false);
  const department = str(box, 'department', 'box', false);
  if (name) draft.box.name = name;
  if (department) draft.box.department = department;
  if (isObj(v.province) && v.province.url) {
    draft.province = { url: str(v.province, 'url', 'province')! };
    for (const key of ['username', 'password', 'topicRoot'] as const) {
      const value = str(v.province, key, 'province', false);
      if (value) draft.province[key] = value;
    }
  }
  if (isObj(v.lis) && v.lis.host) draft.lis = { host: str(v.lis, 'host', 'lis')!, port: port(v.lis, 'port', 'lis')! };
  if (isObj(v.pacs) && v.pacs.host)
    draft.pacs = { host: str(v.pacs, 'host', 'pacs')!, port: port(v.pacs, 'port', 'pacs')!, calledAe: str(v.pacs, 'calledAe', 'pacs')! };
  const ids = new Set<string>();
  for (const d of draft.devices) {
    if (ids.has(d.id)) throw new DraftError('devices', `hai thiết bị cùng tên "${d.id}"`);
    ids.add(d.id);
  }
  return draft;
}
