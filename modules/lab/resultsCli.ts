import { parseArgs } from 'node:util';
import type { UnsentResult } from './recover.ts';

const USAGE = 'usage: edge-agent results recover [--url http://127.0.0.1:8080] [--user admin] [--forward]   (password from EDGE_PASSWORD or standard input)\n';

/** What GET /api/results/recover lists per result (the result and its report stay on the box). */
type Unsent = Omit<UnsentResult, 'result' | 'report'>;

async function readPassword(): Promise<string> {
  if (process.env.EDGE_PASSWORD) return process.env.EDGE_PASSWORD;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/**
 * `edge-agent results recover`: asks the running agent (its admin API) which results its
 * analyzers were acknowledged for and that the identity rule before issue #16 never stored,
 * lists them, and with --forward has the agent journal and forward them.
 */
export async function runResultsCli(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'recover') {
    process.stderr.write(USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      user: { type: 'string', default: 'admin' },
      forward: { type: 'boolean', default: false },
    },
  });
  const headers = { authorization: `Basic ${Buffer.from(`${values.user}:${await readPassword()}`).toString('base64')}` };
  const url = `${values.url!.replace(/\/$/, '')}/api/results/recover`;
  const listed = await fetch(url, { headers });
  if (!listed.ok) {
    process.stderr.write(`${url}: HTTP ${listed.status} ${(await listed.text()).slice(0, 300)}\n`);
    return 1;
  }
  const { unsent } = (await listed.json()) as { unsent: Unsent[] };
  if (unsent.length === 0) {
    process.stdout.write('no result is missing: every result in the raw messages still on the box was stored\n');
    return 0;
  }
  process.stdout.write(`${unsent.length} result(s) acknowledged and never stored:\n`);
  process.stdout.write(['device', 'specimen', 'test', 'value', 'received', 'message'].join('\t') + '\n');
  for (const u of unsent)
    process.stdout.write(
      [u.device, u.specimenId, u.test, `${u.valueText}${u.units ? ` ${u.units}` : ''}`, u.receivedAt, `#${u.messageJournalId}`].join('\t') + '\n',
    );
  if (!values.forward) {
    process.stdout.write('run again with --forward to store and forward them\n');
    return 0;
  }
  const forwarded = await fetch(url, { method: 'POST', headers });
  if (!forwarded.ok) {
    process.stderr.write(`${url}: HTTP ${forwarded.status} ${(await forwarded.text()).slice(0, 300)}\n`);
    return 1;
  }
  const { recovered } = (await forwarded.json()) as { recovered: number };
  process.stdout.write(`${recovered} result(s) journaled; they are forwarded like any other (GET /api/results)\n`);
  return 0;
}
