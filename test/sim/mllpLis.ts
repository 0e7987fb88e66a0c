import { createServer, type Server, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { buildAck } from '../../modules/hl7/ack.ts';
import { MllpDecoder, mllpFrame } from '../../modules/hl7/mllp.ts';
import { header, parseHl7 } from '../../modules/hl7/message.ts';

export type MllpLisMode = 'ok' | 'AE' | 'slow' | 'late-ack' | 'silent' | 'wrong-id';

export interface MllpLis {
  port: number;
  /** Every message received, repeats included. */
  messages: string[];
  /** Distinct MSH-10s received (what a LIS that drops repeats would keep). */
  controlIds: Set<string>;
  mode: MllpLisMode;
  /** Delay for 'slow' and 'late-ack' (ms). */
  delayMs: number;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A LIS that receives ORU messages over MLLP and records them. Modes: ok (AA), AE (refuses
 * every message with a reason), slow (AA after delayMs), late-ack (AA after delayMs, on a
 * connection the sender may have given up on), silent (never answers), wrong-id (AA whose MSA-2
 * names another message: a sender matching by position would take it). It can also be down.
 */
export async function startMllpLis(options: { port?: number; host?: string; mode?: MllpLisMode; delayMs?: number } = {}): Promise<MllpLis> {
  const host = options.host ?? '127.0.0.1';
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  const lis: MllpLis = {
    port: options.port ?? 0,
    messages: [],
    controlIds: new Set(),
    mode: options.mode ?? 'ok',
    delayMs: options.delayMs ?? 2_000,
    down: async () => {
      const s = server;
      server = null;
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
    },
    up: () => listen(),
    stop: () => lis.down(),
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        const decoder = new MllpDecoder();
        socket.on('data', (d: Buffer) => {
          for (const m of decoder.push(d).messages) {
            const text = m.toString('utf8');
            lis.messages.push(text);
            let h;
            try {
              h = header(parseHl7(text));
            } catch {
              continue;
            }
            lis.controlIds.add(h.controlId);
            if (lis.mode === 'silent') continue;
            const code = lis.mode === 'AE' ? 'AE' : 'AA';
            const ack = buildAck(lis.mode === 'wrong-id' ? { ...h, controlId: `OTHER-${h.controlId}` } : h, code, {
              controlId: `L${lis.messages.length}`,
              nowMs: Date.now(),
              timeZone: 'Asia/Ho_Chi_Minh',
              application: 'LIS',
              ...(code === 'AE' ? { text: 'unknown test code in OBX-3' } : {}),
            });
            const send = () => !socket.destroyed && socket.write(mllpFrame(ack));
            if (lis.mode === 'slow' || lis.mode === 'late-ack') setTimeout(send, lis.delayMs);
            else send();
          }
        });
      });
      s.once('error', reject);
      s.listen(lis.port, host, () => {
        lis.port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  await listen();
  return lis;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 6661);
  startMllpLis({ port }).then((l) => console.log(`MLLP LIS listening on 127.0.0.1:${l.port}`));
}
