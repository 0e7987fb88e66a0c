import { parseArgs } from 'node:util';
import { checkConfigReport } from './config/load.ts';
import type { EdgeModule } from './contract/module.ts';
import { hashPassword } from './http/password.ts';
import { registerModules } from './registry.ts';

const USAGE = `edge-agent — the hospital department edge runtime

  edge-agent start [--config FILE] [--no-sim]   run the agent (npm start adds the demo simulators);
                                                no FILE yet: the first-run setup page on port 8080
  edge-agent check-config [--example] FILE      print every problem as FILE:LINE:COLUMN field: message, and warnings;
                                                --example: a shipped example (its .example secrets, placeholders warned)
  edge-agent hash-password [PASSWORD]           print a console password hash for the secrets file
                                                (reads the password from standard input if not given)
  edge-agent certs init [--dir DIR] [--box ID] [--name HOST_OR_IP ...]
                                                make a box CA and server certificate (Debian's openssl);
                                                prints the CA fingerprint staff PCs check
  edge-agent certs client NAME [--dir DIR]      a client certificate signed by the box CA (LIS, PC)
  edge-agent backup [--config FILE] DIR         copy the store (online: the agent may run), checked by opening it
  edge-agent restore [--config FILE] DIR        put a backup back (agent stopped)
  edge-agent check-start [--config FILE]        start, wait until ready, stop (what an upgrade checks)
  edge-agent voice [--force]                    generate the call screen's voice clips (espeak-ng)
`;

/** The core's commands, then each module's (card read, results, replay…). */
const usage = (modules: readonly EdgeModule[]): string => USAGE + modules.flatMap((m) => (m.commands ?? []).map((c) => c.usage)).join('');

async function main(argv: string[], modules: readonly EdgeModule[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start': {
      const { runStart } = await import('./startCommand.ts');
      return runStart(rest, modules);
    }
    case 'check-config':
      return checkConfig(rest);
    case 'hash-password':
      return printHash(rest);
    case 'certs':
      return certs(rest);
    case 'backup':
    case 'restore':
    case 'data-dir':
    case 'check-start':
    case 'voice': {
      const { runMaintenance } = await import('./maintenanceCli.ts');
      return runMaintenance(command, rest, modules);
    }
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(usage(modules));
      return command ? 0 : 2;
    default: {
      const extra = modules.flatMap((m) => m.commands ?? []).find((c) => c.name === command);
      if (extra) return extra.run(rest);
      process.stderr.write(`unknown command "${command}"\n\n${usage(modules)}`);
      return 2;
    }
  }
}

function checkConfig(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { example: { type: 'boolean', default: false } } });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('usage: edge-agent check-config [--example] FILE\n');
    return 2;
  }
  // Problems, or the warnings then "FILE: OK (…)"; --example: a shipped example and its .example secrets.
  const report = checkConfigReport(file, { example: values.example });
  process.stdout.write(`${report.lines.join('\n')}\n`);
  return report.ok ? 0 : 1;
}

async function certs(args: string[]): Promise<number> {
  const { initBoxCertificates, issueClientCertificate, CertificateError } = await import('./net/certs.ts');
  const [sub, ...more] = args;
  const { values, positionals } = parseArgs({
    args: more,
    allowPositionals: true,
    options: {
      dir: { type: 'string', default: '/etc/edge-agent/tls' },
      box: { type: 'string' },
      name: { type: 'string', multiple: true },
      days: { type: 'string' },
    },
  });
  try {
    if (sub === 'init') {
      const made = initBoxCertificates({
        dir: values.dir!,
        boxId: values.box ?? (await import('node:os')).hostname(),
        ...(values.name ? { names: values.name } : {}),
        ...(values.days ? { days: Number(values.days) } : {}),
      });
      process.stdout.write(
        `${made.created ? 'made' : 'kept the existing'} box CA ${made.caCert}\nserver certificate ${made.serverCert} (key ${made.serverKey})\nCA fingerprint (SHA-256), to check on staff PCs:\n  ${made.caFingerprint}\nUse them in the configuration: tls: { cert: ${made.serverCert}, key: ${made.serverKey} }\n`,
      );
      return 0;
    }
    if (sub === 'client' && positionals[0]) {
      const c = issueClientCertificate(values.dir!, positionals[0], values.days ? Number(values.days) : undefined);
      process.stdout.write(`client certificate ${c.cert} (key ${c.key})\n`);
      return 0;
    }
  } catch (err) {
    if (!(err instanceof CertificateError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  process.stderr.write('usage: edge-agent certs init [--dir DIR] [--box ID] [--name HOST_OR_IP ...] | edge-agent certs client NAME [--dir DIR]\n');
  return 2;
}

async function printHash(args: string[]): Promise<number> {
  let password = args[0];
  if (!password) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (password.length < 8) {
    process.stderr.write('the password must have at least 8 characters\n');
    return 2;
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}

/**
 * Runs one command and exits (the composition root, main.ts, calls it with the box's modules);
 * leaves time for pino's async stdout to drain, then exits even if a handle lingers.
 */
export function runCli(argv: string[], modules: readonly EdgeModule[]): void {
  // Their drivers, destinations and configuration checks, before any configuration is read.
  registerModules(modules);
  main(argv, modules).then(
    (code) => {
      process.exitCode = code;
      setTimeout(() => process.exit(code), 200).unref();
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
