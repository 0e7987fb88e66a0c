import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { part10Header } from '../../modules/dicom/data/part10.ts';
import { STORAGE_SOP_CLASSES, VERIFICATION_SOP_CLASS } from '../../modules/dicom/data/sopClasses.ts';
import { TRANSFER_SYNTAXES } from '../../modules/dicom/data/transferSyntaxes.ts';
import { PC_ABSTRACT_SYNTAX_NOT_SUPPORTED, PC_TRANSFER_SYNTAXES_NOT_SUPPORTED } from '../../modules/dicom/net/associate.ts';
import { ScpAssociation } from '../../modules/dicom/net/scpAssociation.ts';
import type { ScpRequest, ScpResponse } from '../../modules/dicom/net/scpAssociation.ts';

export interface PacsReceived {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  callingAe: string;
  size: number;
  /** SHA-256 of the dataset bytes as received. */
  datasetHash: string;
  /** Part 10 file written when `dir` was given. */
  path?: string;
}

export interface PacsSim {
  port: number;
  /** Every C-STORE received and answered, repeats included. */
  received: PacsReceived[];
  /** Status answered to C-STORE (0 success; e.g. 0xA700 out of resources, 0xB007 warning). */
  status: number;
  errorComment: string;
  /** Delay before each C-STORE response (ms): a slow PACS. */
  delayMs: number;
  /** Open associations now, and the most seen at once. */
  associations: number;
  maxAssociationsSeen: number;
  /** C-STOREs being received or answered now, and the most at once. */
  inFlight: number;
  maxInFlightSeen: number;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export interface PacsOptions {
  port?: number;
  host?: string;
  aeTitle?: string;
  /** Write each instance as a Part 10 file here (dataset bytes unchanged). */
  dir?: string;
  status?: number;
  errorComment?: string;
  delayMs?: number;
  /** Transfer syntaxes accepted (default: all the box knows). */
  transferSyntaxes?: string[];
}

/**
 * A PACS for tests and the demo: a C-STORE SCP (and C-ECHO) that records what it receives. It
 * can be slow (delayMs), refuse every instance with a status, accept only some transfer
 * syntaxes, or be down (port closed, associations cut).
 */
export async function startPacs(options: PacsOptions = {}): Promise<PacsSim> {
  const host = options.host ?? '127.0.0.1';
  const aeTitle = options.aeTitle ?? 'PACS';
  const log = pino({ level: process.env.SIM_LOG_LEVEL ?? 'silent' });
  const abstract = new Set([...STORAGE_SOP_CLASSES.map((s) => s.uid), VERIFICATION_SOP_CLASS]);
  const syntaxes = new Set(options.transferSyntaxes ?? TRANSFER_SYNTAXES.map((t) => t.uid));
  if (options.dir) mkdirSync(options.dir, { recursive: true });
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  let seq = 0;
  const sim: PacsSim = {
    port: options.port ?? 0,
    received: [],
    status: options.status ?? 0,
    errorComment: options.errorComment ?? '',
    delayMs: options.delayMs ?? 0,
    associations: 0,
    maxAssociationsSeen: 0,
    inFlight: 0,
    maxInFlightSeen: 0,
    down: async () => {
      const s = server;
      server = null;
      for (const sock of sockets) sock.destroy();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    up: async () => {
      if (server) return;
      const s = createServer((socket) => {
        sockets.add(socket);
        sim.associations++;
        sim.maxAssociationsSeen = Math.max(sim.maxAssociationsSeen, sim.associations);
        socket.on('close', () => {
          sockets.delete(socket);
          sim.associations--;
        });
        new ScpAssociation(
          socket,
          {
            admit: (rq) => (rq.calledAe === aeTitle ? null : { result: 1, source: 1, reason: 7 }),
            negotiate: (as, proposed) =>
              abstract.has(as) ? (proposed.find((t) => syntaxes.has(t)) ?? PC_TRANSFER_SYNTAXES_NOT_SUPPORTED) : PC_ABSTRACT_SYNTAX_NOT_SUPPORTED,
            maxPduLength: 256 * 1024,
            artimMs: 10_000,
            idleTimeoutMs: 0,
          },
          {
            store: async (req) => {
              sim.inFlight++;
              sim.maxInFlightSeen = Math.max(sim.maxInFlightSeen, sim.inFlight);
              try {
                return await receive(req);
              } finally {
                sim.inFlight--;
              }
            },
            find: async () => ({ status: 0xa900, errorComment: 'no C-FIND here' }),
          },
          log,
        );
      });
      const receive = async (req: ScpRequest): Promise<ScpResponse> => {
        const hash = createHash('sha256');
        const parts: Buffer[] = [];
        let size = 0;
        for await (const chunk of req.dataset!) {
          hash.update(chunk);
          size += chunk.length;
          if (options.dir) parts.push(chunk);
        }
        const r: PacsReceived = {
          sopClassUid: req.command.affectedSopClassUid ?? '',
          sopInstanceUid: req.command.affectedSopInstanceUid ?? '',
          transferSyntaxUid: req.pc.transferSyntax,
          callingAe: req.callingAe,
          size,
          datasetHash: hash.digest('hex'),
        };
        if (options.dir) {
          r.path = join(options.dir, `${++seq}-${r.sopInstanceUid}.dcm`);
          await writeFile(
            r.path,
            Buffer.concat([
              part10Header({
                sopClassUid: r.sopClassUid,
                sopInstanceUid: r.sopInstanceUid,
                transferSyntaxUid: r.transferSyntaxUid,
                sourceAeTitle: r.callingAe,
              }),
              ...parts,
            ]),
          );
        }
        if (sim.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, sim.delayMs));
        sim.received.push(r);
        return sim.errorComment ? { status: sim.status, errorComment: sim.errorComment } : { status: sim.status };
      };
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(sim.port, host, () => resolve());
      });
      sim.port = (s.address() as { port: number }).port;
      server = s;
    },
    stop: () => sim.down(),
  };
  await sim.up();
  return sim;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const pacs = await startPacs({
    port: Number(arg('port') ?? 11113),
    aeTitle: arg('ae') ?? 'PACS',
    ...(arg('dir') ? { dir: arg('dir')! } : {}),
    delayMs: Number(arg('delay') ?? 0),
    status: parseInt(arg('status') ?? '0', 16),
  });
  console.log(`PACS simulator (AE ${arg('ae') ?? 'PACS'}) listening on ${pacs.port}`);
  setInterval(() => console.log(`${pacs.received.length} instance(s) received, ${pacs.associations} association(s) open`), 10_000).unref();
  process.on('SIGINT', () => void pacs.stop().then(() => process.exit(0)));
  process.on('SIGTERM', () => void pacs.stop().then(() => process.exit(0)));
}
