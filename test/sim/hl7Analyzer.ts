import { pathToFileURL } from 'node:url';
import { formatAstmTime } from '../../drivers/astm/session.ts';
import { TestMllpClient } from '../helpers/mllpClient.ts';
import { hl7Fixture, MINDRAY, withControlId } from '../helpers/hl7Fixtures.ts';

/**
 * A Mindray BC-5380 that sends its ORU^R01 (the fixture, with a new MSH-10 and sample id each
 * round) to the box over MLLP, and waits for each ACK before the next — the demo's HL7 analyzer.
 */
export async function startHl7AnalyzerStream(options: { host?: string; port: number; intervalMs?: number }): Promise<{ stop(): Promise<void>; sent: () => number }> {
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
      const text = withControlId(hl7Fixture(MINDRAY), `BC${stamp}${n}`)
        .replace('|20071207011|', `|BC${stamp.slice(2)}${n}|`)
        .replace(/^(MSH\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|[^|]*\|)[^|]*/, `$1${formatAstmTime(Date.now(), 'Asia/Ho_Chi_Minh')}`);
      await client.send(text);
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
  startHl7AnalyzerStream({ port }).then(() => console.log(`sending Mindray ORU^R01 to 127.0.0.1:${port}`));
}
