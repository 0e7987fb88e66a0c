import { pathToFileURL } from 'node:url';
import { formatAstmTime } from '../../modules/astm/session.ts';
import { TestMllpClient } from '../helpers/mllpClient.ts';
import { hl7Fixture, MINDRAY, withControlId } from '../helpers/hl7Fixtures.ts';

/**
 * Messages the demo's analyzer sends in turn: a Mindray BC-5380 CBC (v2.3.1), a blood-gas ORU
 * v2.2 (empty OBX-3.1 with the test's name, `.....` not measured, NTE error codes, the patient
 * id only in PID-4) and a CBC with repeated tests, sub-ids, several patient ids and NTE.
 */
const ROTATION = [MINDRAY, 'synthetic_bloodgas_v22.hl7', 'synthetic_cbc_v231_repeats.hl7'];

/** A fixture as a new message: its own MSH-10, a new sample id in OBR-3, MSH-7 now in the analyzer's zone. */
export function freshMessage(fixture: string, controlId: string, specimen: string, nowMs: number): string {
  return withControlId(hl7Fixture(fixture), controlId)
    .replace(/(\rOBR\|[^|]*\|[^|]*\|)[^|^]*/g, `$1${specimen}`)
    .replace(/^(MSH\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|)[^|]*/, `$1${formatAstmTime(nowMs, 'Asia/Ho_Chi_Minh')}`);
}

/**
 * The demo's HL7 analyzer: sends the messages above in turn (each with a new MSH-10 and sample
 * id) to the box over MLLP, and waits for each ACK before the next.
 */
export async function startHl7AnalyzerStream(options: {
  host?: string;
  port: number;
  intervalMs?: number;
}): Promise<{ stop(): Promise<void>; sent: () => number }> {
  let client: TestMllpClient | null = null;
  let n = 0;
  let stopped = false;
  const round = async () => {
    if (stopped) return;
    try {
      client ??= await TestMllpClient.open(options.port, options.host ?? '127.0.0.1');
      n++;
      const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
      // MSH-7 in the analyzer's local time, as a correctly set analyzer sends it.
      await client.send(freshMessage(ROTATION[(n - 1) % ROTATION.length]!, `BC${stamp}${n}`, `BC${stamp.slice(2)}${n}`, Date.now()));
    } catch {
      client?.close();
      client = null; // the box restarted: reconnect next round
    }
  };
  const timer = setInterval(() => void round(), options.intervalMs ?? 7_000);
  void round();
  return {
    sent: () => n,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      client?.close();
    },
  };
}

/** `start<Name>` per the simulator convention; the demo launcher imports startHl7AnalyzerStream. */
export const startHl7Analyzer = startHl7AnalyzerStream;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 2575);
  startHl7AnalyzerStream({ port }).then(() => console.log(`sending ORU^R01 (Mindray CBC, blood gas, CBC with repeats) to 127.0.0.1:${port}`));
}
