import { createReadStream } from 'node:fs';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { DicomParseError } from './data/codec.ts';
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { DeliveryOutcome, Destination, DestinationFactory, OutboxItem } from '../../core/contract/destination.ts';
import { readPart10 } from './data/part10.ts';
import { coercePart10, CoercionError, coercionContextFrom } from './data/coerce.ts';
import type { CoercionContext, CoercionRule } from './data/coerce.ts';

/**
 * DICOMweb STOW-RS (PS3.18 10.5) to a PACS: multipart/related with type="application/dicom",
 * each part a stored Part 10 file streamed byte for byte (never re-encoded: specs/dicom.md
 * measured 49 of 58 objects changed by a re-encoding SCU). One instance per POST (deliver), or
 * with batchSize > 1 several per POST (deliverBatch; the forwarder groups them by study), each
 * instance getting its own outcome from the answer. Connections are kept alive; the forwarder's
 * window (with ordered: false) gives the parallelism, which is what beats C-STORE on a
 * high-latency uplink.
 */

export interface StowRsConfig {
  /** DICOMweb base URL, e.g. http://pacs:8042/dicom-web; instances are POSTed to {url}/studies. */
  url: string;
  username?: string;
  password?: string;
  bearerToken?: string;
  /** Whole-request limit (upload and answer). */
  requestTimeoutSeconds?: number;
  /** Kept-alive connections to the PACS (the forwarder's window decides how many are busy). */
  maxConnections?: number;
  /** HTTPS: PEM file of the CA that signed the PACS's certificate. */
  caFile?: string;
  rejectUnauthorized?: boolean;
  /** Tag coercion for this PACS (e.g. Institution Name); the stored original is never changed. */
  coerce?: CoercionRule[];
  /** Read by the controller (forwarder options): instances per POST and the byte cap of one POST. */
  batchSize?: number;
  batchMaxBytes?: number;
}

/** FailureReason (0008,1197) values (PS3.18 Table I.2-1 / PS3.4 B.2.3). */
const FAILURE_REASONS: Record<number, string> = {
  0x0110: 'processing failure',
  0x0112: 'no such object instance',
  0x0122: 'SOP class not supported',
  0x0124: 'not authorized',
  0x0131: 'duplicate invocation',
  0x0211: 'unrecognized operation',
  0x0212: 'mistyped argument',
  0xa700: 'refused: out of resources',
  0xa900: 'error: data set does not match SOP class',
  0xc000: 'error: cannot understand',
  0xc122: 'referenced transfer syntax not supported',
  0xb000: 'coercion of data elements',
  0xb006: 'elements discarded',
  0xb007: 'data set does not match SOP class (warning)',
};

export interface StowAnswer {
  failed: Array<{ sopInstanceUid?: string; reason?: number }>;
  stored: Array<{ sopInstanceUid?: string; warning?: number }>;
}

type Json = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

function jsonSeq(ds: Json, tag: string): Json[] {
  const v = ds[tag]?.Value;
  return Array.isArray(v) ? (v.filter((x) => x !== null && typeof x === 'object') as Json[]) : [];
}
function first(ds: Json, tag: string): unknown {
  const v = ds[tag]?.Value;
  return Array.isArray(v) ? v[0] : undefined;
}
function jsonUid(ds: Json, tag: string): string | undefined {
  const v = first(ds, tag);
  return typeof v === 'string' ? v : undefined;
}
function jsonNum(ds: Json, tag: string): number | undefined {
  const v = first(ds, tag);
  return typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : undefined;
}

/** Parses a STOW-RS response body (application/dicom+json, or the XML of PS3.19 Native DICOM Model). */
export function parseStowAnswer(body: string, contentType: string): StowAnswer {
  const answer: StowAnswer = { failed: [], stored: [] };
  if (!body.trim()) return answer;
  if (/json/i.test(contentType) || body.trimStart().startsWith('{') || body.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return answer;
    }
    const ds = (Array.isArray(parsed) ? parsed[0] : parsed) as Json | undefined;
    if (!ds || typeof ds !== 'object' || Array.isArray(ds)) return answer;
    for (const item of jsonSeq(ds, '00081198')) {
      answer.failed.push({ sopInstanceUid: jsonUid(item, '00081155'), reason: jsonNum(item, '00081197') });
    }
    for (const item of jsonSeq(ds, '00081199')) {
      answer.stored.push({ sopInstanceUid: jsonUid(item, '00081155'), warning: jsonNum(item, '00081196') });
    }
    return answer;
  }
  // XML (PS3.19): <DicomAttribute tag="00081198" vr="SQ"><Item number="1">...</Item></DicomAttribute>
  const seq = (tag: string): string[] => {
    const start = body.search(new RegExp(`tag="${tag}"`, 'i'));
    if (start < 0) return [];
    const rest = body.slice(start + 14);
    // The next top-level STOW attribute: RetrieveURL, ReferencedSOPSequence, OtherFailuresSequence.
    const next = rest.search(/tag="0008119[09A]"/i);
    return (next < 0 ? rest : rest.slice(0, next)).split(/<Item\b/i).slice(1);
  };
  const val = (xml: string, tag: string): string | undefined => new RegExp(`tag="${tag}"[^>]*>\\s*<Value[^>]*>([^<]*)</Value>`, 'i').exec(xml)?.[1]?.trim();
  for (const item of seq('00081198')) {
    const r = val(item, '00081197');
    answer.failed.push({ sopInstanceUid: val(item, '00081155'), reason: r === undefined ? undefined : Number(r) });
  }
  for (const item of seq('00081199')) {
    const w = val(item, '00081196');
    answer.stored.push({ sopInstanceUid: val(item, '00081155'), warning: w === undefined ? undefined : Number(w) });
  }
  return answer;
}

function reasonText(code: number | undefined): string {
  if (code === undefined) return 'no failure reason given';
  const hex = `0x${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `${hex} ${FAILURE_REASONS[code] ?? (code >= 0xa700 && code <= 0xa7ff ? 'refused: out of resources' : 'failure')}`;
}

/**
 * Failure reasons worth another try: out of resources (A7xx) and processing failure (0110, the
 * PACS's own trouble, e.g. its database busy). Class mismatches, "cannot understand" and the
 * rest are the instance's: parked.
 */
function transientReason(code: number | undefined): boolean {
  return code !== undefined && ((code >= 0xa700 && code <= 0xa7ff) || code === 0x0110);
}

/** The outcome of an instance named in FailedSOPSequence. */
function failedOutcome(reason: number | undefined, status: number): DeliveryOutcome {
  if (transientReason(reason)) return { result: 'retry', reason: `PACS ${reasonText(reason)} (HTTP ${status})` };
  return { result: 'permanent', reason: `PACS refused the instance: ${reasonText(reason)} (HTTP ${status})` };
}

function storedOutcome(status: number, warning: number | undefined): DeliveryOutcome {
  return { result: 'ok', detail: warning !== undefined ? `stored with warning ${reasonText(warning)}` : `HTTP ${status}` };
}

/** The outcome of a status that says nothing per instance: the same for every instance of the request. */
function statusOutcome(status: number): DeliveryOutcome {
  if ([401, 403, 404, 407].includes(status)) return { result: 'retry', reason: `HTTP ${status}: check the destination's URL and credentials` };
  if (status === 408 || status === 429 || status >= 500) return { result: 'retry', reason: `HTTP ${status}` };
  if (status >= 400) return { result: 'permanent', reason: `PACS refused the instance: HTTP ${status}` };
  if (status >= 200 && status < 300) return { result: 'ok', detail: `HTTP ${status}` };
  return { result: 'retry', reason: `unexpected HTTP ${status}` };
}

/**
 * The outcome of one STOW-RS answer for one instance (PS3.18 10.5.3): 200 → stored;
 * 202 → look for our instance in FailedSOPSequence; 409 → refused with its reason.
 * Out of resources (A7xx), processing failure (0110), 408, 429, 5xx → retried. Authentication
 * or address errors (401, 403, 404, 407) are the box's configuration, not the instance's fault:
 * retried, so fixing the configuration delivers everything instead of leaving it all in dead letter.
 */
export function stowOutcome(status: number, answer: StowAnswer, sopInstanceUid: string | undefined): DeliveryOutcome {
  // One instance per request: any failed entry is ours (the file meta's SOP Instance UID may
  // differ from the dataset's in non-conformant files, so UIDs are preferred but not required).
  const mine = answer.failed.find((f) => f.sopInstanceUid === sopInstanceUid) ?? answer.failed[0];
  if (status === 200 || (status === 202 && !mine)) {
    const warned = answer.stored.find((s) => s.warning !== undefined && (!sopInstanceUid || s.sopInstanceUid === sopInstanceUid));
    return storedOutcome(status, warned?.warning);
  }
  if (mine && transientReason(mine.reason)) return failedOutcome(mine.reason, status);
  if (status === 202 || status === 409) return failedOutcome(mine?.reason, status);
  const outcome = statusOutcome(status);
  return outcome.result === 'permanent' && mine ? { result: 'permanent', reason: `${outcome.reason} ${reasonText(mine.reason)}` } : outcome;
}

/**
 * Outcomes of one STOW-RS answer for the instances of a batch, in their order. 200: all stored.
 * 202 / 409: each instance by its entry in FailedSOPSequence (0008,1198) or ReferencedSOPSequence
 * (0008,1199); one the answer does not name is retried (unknown outcome, same idempotency key),
 * unless the answer names none at all (then as for one instance: 202 stored, 409 refused).
 * Any other status applies to every instance: 4xx parked (401/403/404/407/408/429 retried),
 * 5xx retried.
 */
export function stowBatchOutcomes(status: number, answer: StowAnswer, sopInstanceUids: Array<string | undefined>): DeliveryOutcome[] {
  if (sopInstanceUids.length === 1) return [stowOutcome(status, answer, sopInstanceUids[0])];
  if (status === 200) return sopInstanceUids.map((uid) => storedOutcome(status, answer.stored.find((s) => uid && s.sopInstanceUid === uid)?.warning));
  if (status !== 202 && status !== 409) return sopInstanceUids.map(() => statusOutcome(status));
  const named = answer.failed.length + answer.stored.length > 0;
  return sopInstanceUids.map((uid) => {
    const failed = uid ? answer.failed.find((f) => f.sopInstanceUid === uid) : undefined;
    if (failed) return failedOutcome(failed.reason, status);
    const stored = uid ? answer.stored.find((s) => s.sopInstanceUid === uid) : undefined;
    if (stored) return storedOutcome(status, stored.warning);
    if (named) return { result: 'retry', reason: `PACS answer (HTTP ${status}) does not name this instance; outcome unknown` };
    return status === 202 ? storedOutcome(status, undefined) : failedOutcome(undefined, status);
  });
}

/** One instance ready to go: its SOP Instance UID, size and a fresh stream of its (possibly coerced) bytes. */
interface Part {
  sopInstanceUid: string | undefined;
  size: number;
  stream: () => Readable;
}

/** The multipart/related body of a STOW-RS request: its headers' Content-Type and length, and a stream that opens one file at a time. */
export function multipartBody(
  parts: ReadonlyArray<Pick<Part, 'size' | 'stream'>>,
  boundary = `edge-${randomBytes(12).toString('hex')}`,
): { contentType: string; length: number; stream: () => Readable } {
  const head = (i: number): Buffer => Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, 'latin1');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  const length = parts.reduce((n, p, i) => n + head(i).length + p.size, 0) + tail.length;
  async function* body(): AsyncGenerator<Buffer> {
    for (let i = 0; i < parts.length; i++) {
      yield head(i);
      // Files are opened one after the other: a batch never sits in memory, nor holds many descriptors.
      for await (const chunk of parts[i]!.stream()) yield chunk as Buffer;
    }
    yield tail;
  }
  return {
    contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
    length,
    stream: () => Readable.from(body(), { objectMode: false }),
  };
}

export class StowRsDestination implements Destination {
  private readonly endpoint: URL;
  private readonly agent: http.Agent;
  private readonly authHeader: string | undefined;

  constructor(
    readonly id: string,
    private readonly config: StowRsConfig,
    private readonly log: Logger,
    /** Order look-up for coercion rules with fromOrder (the order cache). */
    private readonly coercion: CoercionContext = {},
  ) {
    const base = config.url.replace(/\/+$/, '');
    this.endpoint = new URL(/\/studies$/.test(base) ? base : `${base}/studies`);
    const agentOptions = { keepAlive: true, maxSockets: config.maxConnections ?? 8, keepAliveMsecs: 10_000 };
    this.agent =
      this.endpoint.protocol === 'https:'
        ? new https.Agent({
            ...agentOptions,
            ca: config.caFile ? readFileSync(config.caFile) : undefined,
            rejectUnauthorized: config.rejectUnauthorized ?? true,
          })
        : new http.Agent(agentOptions);
    if (config.bearerToken) this.authHeader = `Bearer ${config.bearerToken}`;
    else if (config.username !== undefined) this.authHeader = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
  }

  async stop(): Promise<void> {
    this.agent.destroy();
  }

  async deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
    return (await this.deliverBatch([item], signal))[0]!;
  }

  /**
   * One POST for the items (one outcome each, in order). An item whose file cannot be read or
   * coerced gets its outcome at once and is left out of the request.
   */
  async deliverBatch(items: OutboxItem[], signal: AbortSignal): Promise<DeliveryOutcome[]> {
    const outcomes: Array<DeliveryOutcome | undefined> = new Array(items.length);
    const prepared = await Promise.all(items.map((item) => this.prepare(item)));
    const sending: Array<{ index: number; part: Part }> = [];
    prepared.forEach((p, index) => {
      if ('result' in p) outcomes[index] = p;
      else sending.push({ index, part: p });
    });
    if (sending.length > 0) {
      const body = multipartBody(sending.map((s) => s.part));
      const headers: http.OutgoingHttpHeaders = { 'Content-Type': body.contentType, Accept: 'application/dicom+json', 'Content-Length': body.length };
      if (this.authHeader) headers.Authorization = this.authHeader;
      const timeoutMs = (this.config.requestTimeoutSeconds ?? 300) * 1000;
      let results: DeliveryOutcome[];
      let status = 0;
      try {
        const answer = await this.post(headers, body.stream, signal, timeoutMs);
        status = answer.status;
        results = stowBatchOutcomes(
          status,
          parseStowAnswer(answer.body, answer.contentType),
          sending.map((s) => s.part.sopInstanceUid),
        );
      } catch (err) {
        const reason = `STOW-RS request failed: ${(err as Error).message}`;
        results = sending.map(() => ({ result: 'retry', reason }));
      }
      sending.forEach((s, i) => (outcomes[s.index] = results[i]!));
      const refused = results.filter((o) => o.result !== 'ok') as Array<Exclude<DeliveryOutcome, { result: 'ok' }>>;
      if (refused.length > 0) {
        this.log.warn(
          { outboxIds: sending.map((s) => items[s.index]!.outboxId), instances: sending.length, notStored: refused.length, status, reason: refused[0]!.reason },
          'STOW-RS not stored',
        );
      }
    }
    return outcomes.map((o) => o ?? { result: 'retry', reason: 'no outcome' });
  }

  /** Reads what the request needs from the stored file, applying coercion; an outcome instead when the item cannot go. */
  private async prepare(item: OutboxItem): Promise<Part | DeliveryOutcome> {
    const path = item.blobPath;
    if (!path) return { result: 'permanent', reason: 'journal entry has no instance file to send' };
    let sopInstanceUid: string | undefined;
    let size: number;
    try {
      [sopInstanceUid, size] = await Promise.all([readPart10(path).then((m) => m.sopInstanceUid), item.blob ? item.blob.size : stat(path).then((s) => s.size)]);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A missing file is a store problem the operator must see; retrying will not fix a file that is not Part 10.
      if (code === 'ENOENT' || code === 'EIO' || code === 'EMFILE') return { result: 'retry', reason: `instance file unreadable: ${(err as Error).message}` };
      return { result: 'permanent', reason: `stored instance is not a Part 10 file: ${(err as Error).message}` };
    }
    const end = size - 1;
    if (!this.config.coerce?.length) return { sopInstanceUid, size, stream: () => createReadStream(path, { end, highWaterMark: 256 * 1024 }) };
    try {
      const coerced = await coercePart10(path, this.config.coerce, this.coercion, size);
      return { sopInstanceUid, size: coerced.size, stream: coerced.stream };
    } catch (err) {
      if (err instanceof CoercionError) return { result: 'permanent', reason: `coercion rules cannot apply: ${err.message}` };
      // The stored bytes do not parse as a dataset: no retry will change that.
      if (err instanceof DicomParseError) return { result: 'permanent', reason: `the stored instance does not parse, coercion cannot apply: ${err.message}` };
      return { result: 'retry', reason: `coercion failed: ${(err as Error).message}` };
    }
  }

  private post(
    headers: http.OutgoingHttpHeaders,
    body: () => Readable,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<{ status: number; body: string; contentType: string }> {
    return new Promise((resolve, reject) => {
      const mod = this.endpoint.protocol === 'https:' ? https : http;
      const req = mod.request(this.endpoint, { method: 'POST', headers, agent: this.agent, signal });
      const timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs / 1000} s`)), timeoutMs);
      req.on('socket', (s) => s.setNoDelay(true)); // specs/dicom.md: Nagle costs 10x on small instances
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (c: Buffer) => {
          // The answer is a small status document; cap it so a misbehaving server cannot fill memory.
          if (length < 4 * 1024 * 1024) chunks.push(c);
          length += c.length;
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), contentType: String(res.headers['content-type'] ?? '') });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      const upload = body();
      upload.on('error', (err) => req.destroy(err));
      // An aborted or failed request stops reading the files.
      req.on('close', () => upload.destroy());
      upload.pipe(req);
    });
  }
}

export const dicomStowRsDestinationFactory: DestinationFactory<StowRsConfig> = {
  type: 'dicom-stowrs',
  create: (ctx, config) => new StowRsDestination(ctx.id, config, ctx.log, coercionContextFrom(ctx.services)),
};
