import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { MllpDecoder, mllpFrame } from '../../modules/hl7/mllp.ts';
import { pathToFileURL } from 'node:url';
import { hl7Segment } from '../helpers/hl7Fixtures.ts';
import { startRestartableHttpServer } from './restartableHttpServer.ts';
import { demoInsuranceCode } from './vssGateway.ts';

/**
 * Plays a hospital information system with an HTTPS/JSON API (the field names the his-http
 * adapter uses by default): appointments for synthetic CCCDs, check-in registration that records
 * what it gets (once per requestId), an insurance endpoint answering like the social-security
 * gateway, and, for any other POST, the generic JSON receiver of test/sim/httpSink.ts (the demo's
 * http-json destinations post to /ingest and /lis/results). Optionally an HL7 MLLP listener
 * (`hl7Port`) that acknowledges every ADT^A04 with AA. It can be slow or down.
 */

/** Synthetic CCCDs with a booked appointment today (demo and tests). */
export const CCCD_WITH_APPOINTMENT = '079085001234';
export const CCCD_WITH_TWO_APPOINTMENTS = '001190005678';
/** Registration of this CCCD is refused (422): plays a poison item. */
export const CCCD_REFUSED = '079099999999';

export interface HisSimOptions {
  port?: number;
  host?: string;
  /** Added latency per request (ms), e.g. 200 to play a slow HIS. */
  delayMs?: number;
  /** Also listen for HL7 v2 over MLLP on this port (0: ephemeral), answering AA to each message. */
  hl7Port?: number;
}

export interface ReceivedRegistration {
  requestId: string | undefined;
  idempotencyKey: string | undefined;
  body: Record<string, unknown>;
  at: number;
}

export interface HisSim {
  /** The `POST /ingest` URL (drop-in for httpSink's url). */
  url: string;
  baseUrl: string;
  port: number;
  /** Registrations accepted, once per requestId (repeats are answered but not recorded again). */
  registrations: ReceivedRegistration[];
  /** Every registration request, repeats included. */
  registrationAttempts: number;
  /** Appointment and insurance look-ups received (the kiosk's rate limits are checked against these). */
  appointmentLookups: number;
  insuranceLookups: number;
  /** HL7 messages received over MLLP (when hl7Port was given). */
  hl7Messages: string[];
  /** The MLLP port, when hl7Port was given. */
  hl7ListenPort: number | null;
  /** Bodies posted to /ingest and any other non-API path (httpSink-compatible). */
  received: Array<{ path: string; idempotencyKey: string | undefined; body: unknown; at: number }>;
  setDelay(ms: number): void;
  /** Stops listening (connections refused) until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

function appointmentsFor(cccd: string, day: string): unknown[] {
  if (cccd === CCCD_WITH_APPOINTMENT)
    return [{ id: `LH-${day}-001`, time: `${day}T08:30:00+07:00`, serviceCode: 'KNOI', serviceName: 'Khám Nội', doctor: 'BS. Trần Thị B', room: 'P.105' }];
  if (cccd === CCCD_WITH_TWO_APPOINTMENTS)
    return [
      { id: `LH-${day}-002`, time: `${day}T09:00:00+07:00`, serviceCode: 'XN', serviceName: 'Xét nghiệm' },
      { id: `LH-${day}-003`, time: `${day}T10:00:00+07:00`, serviceCode: 'XQ', serviceName: 'X-quang', room: 'P.012' },
    ];
  return [];
}

export async function startHisSim(options: HisSimOptions = {}): Promise<HisSim> {
  const host = options.host ?? '127.0.0.1';
  let delayMs = options.delayMs ?? 0;
  const seen = new Set<string>();
  const sim = {
    registrations: [] as ReceivedRegistration[],
    registrationAttempts: 0,
    appointmentLookups: 0,
    insuranceLookups: 0,
    received: [] as HisSim['received'],
    hl7Messages: [] as string[],
  };

  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

  const handle = async (req: IncomingMessage, res: ServerResponse, text: string) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    let body: unknown;
    if (req.method === 'POST') {
      try {
        body = JSON.parse(text);
      } catch {
        res.writeHead(400).end('body is not JSON');
        return;
      }
    }
    if (req.method === 'GET' && url.pathname === '/api/appointments') {
      sim.appointmentLookups++;
      const cccd = url.searchParams.get('cccd') ?? '';
      const day = url.searchParams.get('date') ?? '';
      if (!/^\d{12}$/.test(cccd) || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return json(res, 400, { error: 'cccd (12 digits) and date (yyyy-mm-dd) are required' });
      return json(res, 200, { appointments: appointmentsFor(cccd, day) });
    }
    if (req.method === 'POST' && url.pathname === '/api/checkin') {
      sim.registrationAttempts++;
      const b = (body ?? {}) as Record<string, unknown>;
      const patient = (b.patient ?? {}) as Record<string, unknown>;
      const requestId = typeof b.requestId === 'string' ? b.requestId : key;
      if (typeof patient.cccd !== 'string' || !/^\d{12}$/.test(patient.cccd)) return json(res, 422, { error: 'patient.cccd must be 12 digits' });
      if (patient.cccd === CCCD_REFUSED) return json(res, 422, { error: `patient ${patient.cccd} is blocked in this HIS` });
      if (requestId && seen.has(requestId)) return json(res, 200, { requestId, status: 'already-registered' });
      if (requestId) seen.add(requestId);
      sim.registrations.push({ requestId, idempotencyKey: key, body: b, at: Date.now() });
      return json(res, 200, { requestId: requestId ?? null, status: 'registered', hisVisitId: `V${sim.registrations.length}` });
    }
    if (req.method === 'POST' && url.pathname === '/api/insurance') {
      sim.insuranceLookups++;
      const b = (body ?? {}) as Record<string, unknown>;
      const cccd = String(b.cccd ?? '');
      if (!/^\d{12}$/.test(cccd)) return json(res, 200, { maKetQua: '205' });
      const year = new Date().getUTCFullYear();
      // The same outcomes as the gateway simulator (its demo patients and synthetic numbers).
      const code = demoInsuranceCode(cccd);
      const card = ['000', '001', '002', '003', '004', '010'].includes(code)
        ? {
            maThe: `DN47979${cccd.slice(-8)}`,
            maDKBD: '79001',
            gtTheTu: code === '010' ? `01/01/${year - 2}` : `01/01/${year}`,
            gtTheDen: code === '010' ? `31/12/${year - 1}` : `31/12/${year}`,
          }
        : {};
      return json(res, 200, { maKetQua: code, ...card });
    }
    // Anything else behaves as test/sim/httpSink.ts: the demo's http-json destinations post to
    // /ingest and /lis/results here.
    if (req.method === 'POST') {
      sim.received.push({ path: url.pathname, idempotencyKey: key, body, at: Date.now() });
      return json(res, 200, { id: key ?? null });
    }
    if (req.method === 'GET' && !url.pathname.startsWith('/api/')) return json(res, 200, { received: sim.received.length });
    json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  };

  const server = await startRestartableHttpServer(
    (req, res, text) => (delayMs > 0 ? setTimeout(() => void handle(req, res, text), delayMs) : void handle(req, res, text)),
    host,
    options.port,
  );
  const hl7 = options.hl7Port === undefined ? null : await startMllpAcker(options.hl7Port, host, sim.hl7Messages);
  return Object.assign(sim, {
    get url() {
      return `http://${host}:${server.port}/ingest`;
    },
    get baseUrl() {
      return `http://${host}:${server.port}`;
    },
    get port() {
      return server.port;
    },
    setDelay: (ms: number) => {
      delayMs = ms;
    },
    hl7ListenPort: hl7?.port ?? null,
    down: server.down,
    up: server.up,
    stop: async () => {
      await server.down();
      await hl7?.stop();
    },
  });
}

/** An MLLP listener that answers every message with AA for its MSH-10 (HL7 v2 original mode). */
async function startMllpAcker(port: number, host: string, messages: string[]): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const decoder = new MllpDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk).messages) {
        const msg = frame.toString('utf8');
        messages.push(msg);
        const msh = msg.split('\r')[0] ?? '';
        const controlId = msh.split('|')[9] ?? '';
        socket.write(
          mllpFrame(
            `MSH|^~\\&|HIS-SIM||EDGE||${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}||ACK|A${messages.length}|P|2.5\rMSA|AA|${controlId}\r`,
          ),
        );
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** An imaging order as the HIS schedules it (demo: one per study the modality makes). */
export interface ImagingOrder {
  orderId: string;
  accessionNumber: string;
  patientId: string;
  /** HL7 XPN: family^given (Vietnamese: "Phạm^Thị Hoa"). */
  patientName: string;
  procedure: { code: string; name: string; modality: string };
  stationAeTitle: string;
  /** HL7 TS in the box's zone, e.g. 20261203091000. */
  scheduledAt: string;
  /** HL7 family^given, without the ID. */
  referringPhysician?: string;
}

/** The order as OMI^O23 (HL7 v2.5.1, UTF-8): what the box's `hl7-mllp` orders listener takes. */
export function omiMessage(o: ImagingOrder, controlId: string): string {
  return (
    [
      `MSH|^~\\&|HIS|BV|EDGE|BV|${o.scheduledAt}||OMI^O23^OMI_O23|${controlId}|P|2.5.1||||||UNICODE UTF-8`,
      hl7Segment('PID', { 1: '1', 3: o.patientId, 5: o.patientName }),
      hl7Segment('PV1', { 1: '1', 2: 'O', 8: o.referringPhysician ? `BS01^${o.referringPhysician}` : '' }),
      hl7Segment('ORC', { 1: 'NW', 2: o.orderId }),
      hl7Segment('TQ1', { 1: '1', 7: o.scheduledAt }),
      hl7Segment('OBR', { 1: '1', 2: o.orderId, 3: o.accessionNumber, 4: `${o.procedure.code}^${o.procedure.name}`, 24: o.procedure.modality }),
      hl7Segment('IPC', { 1: o.accessionNumber, 2: o.orderId, 4: `${o.accessionNumber}-1`, 5: o.procedure.modality, 9: o.stationAeTitle }),
    ].join('\r') + '\r'
  );
}

// `tsx test/sim/his.ts --port 8090 [--delay 200] [--hl7-port 2575]` runs it on its own.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
  const hl7 = arg('--hl7-port');
  startHisSim({ port: Number(arg('--port') ?? 8090), delayMs: Number(arg('--delay') ?? 0), hl7Port: hl7 === undefined ? undefined : Number(hl7) }).then((s) =>
    console.log(
      `HIS simulator on ${s.baseUrl} (appointments for ${CCCD_WITH_APPOINTMENT}, ${CCCD_WITH_TWO_APPOINTMENTS}; other POSTs recorded as http-json)` +
        (s.hl7ListenPort ? `; HL7 MLLP on ${s.hl7ListenPort}` : ''),
    ),
  );
}
