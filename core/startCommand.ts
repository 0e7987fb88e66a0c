import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { ConfigError, loadConfig } from './config/load.ts';
import { formatProblem } from './config/types.ts';
import type { EdgeModule } from './contract/module.ts';
import { Agent } from './controller.ts';
import { waitForValidConfig } from './http/configErrorPage.ts';
import { createLogger } from './log.ts';
import { createNotifier } from './sdNotify.ts';

/** EX_CONFIG: stopped while the configuration was still invalid. */
const EXIT_CONFIG = 78;
/** EX_TEMPFAIL: a restart was asked for; systemd's Restart=always starts us again. */
const EXIT_RESTART = 75;

interface Simulators {
  startDevices(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `edge-agent start`: first run (no file: the setup page), a bad file (the problems page until
 * it is fixed), then the agent; a restart from the console exits for systemd to start us again,
 * or, by hand (`npm start`, no systemd), starts the agent again in this process.
 */
export async function runStart(args: string[], modules: readonly EdgeModule[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', default: process.env.EDGE_CONFIG ?? '/etc/edge-agent/config.yaml' },
      'no-sim': { type: 'boolean', default: false },
      sim: { type: 'boolean', default: false },
    },
  });
  const configFile = values.config!;
  const log = createLogger(process.env.LOG_LEVEL ?? 'info');
  const stopSignal = new Promise<string>((resolveStop) => {
    process.once('SIGTERM', () => resolveStop('SIGTERM'));
    process.once('SIGINT', () => resolveStop('SIGINT'));
  });
  const underSystemd = Boolean(process.env.NOTIFY_SOCKET || process.env.INVOCATION_ID);
  const withSimulators = values.sim && !values['no-sim'];
  // The page before the agent (setup or problems) listens where staff's PCs reach it: the LAN.
  const pageAddress = { host: process.env.EDGE_HTTP_HOST ?? '0.0.0.0', port: Number(process.env.EDGE_HTTP_PORT ?? 8080) };

  // Problems the agent found at start that the file check does not (rare): shown like the others.
  let startProblems: ConfigError['problems'] | null = null;
  for (;;) {
    if (!existsSync(configFile)) {
      const { runFirstRunSetup } = await import('./setup/firstRunServer.ts');
      const saved = await runFirstRunSetup({ configFile, profiles: modules.flatMap((m) => m.profiles ?? []), ...pageAddress, log, until: stopSignal });
      if (!saved) return 0;
    }
    const invalid = startProblems ?? configProblems(configFile);
    startProblems = null;
    if (invalid) {
      const fixed = await waitForValidConfig({ configFile, ...pageAddress, problems: invalid, log, notifier: createNotifier(), until: stopSignal });
      if (!fixed) return EXIT_CONFIG;
    }
    const outcome = await runAgentOnce(configFile, modules, log, withSimulators, stopSignal);
    if (outcome === 'stopped') return 0;
    if (outcome === 'failed') return 1;
    if (outcome === 'restart') {
      if (underSystemd) return EXIT_RESTART;
      log.info('restarting in this process (not under systemd)');
    } else {
      startProblems = outcome.problems;
    }
  }
}

function configProblems(configFile: string): ConfigError['problems'] | null {
  try {
    loadConfig(configFile);
    return null;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

async function runAgentOnce(
  configFile: string,
  modules: readonly EdgeModule[],
  log: Logger,
  withSimulators: boolean | undefined,
  stopSignal: Promise<string>,
): Promise<'stopped' | 'restart' | 'failed' | { problems: ConfigError['problems'] }> {
  let restartRequested: () => void = () => undefined;
  const restart = new Promise<void>((r) => (restartRequested = r));
  const agent = new Agent({ configFile, modules, log, onRestartRequested: () => restartRequested() });
  let simulators: Simulators | null = null;
  try {
    if (withSimulators) {
      // The demo's devices and destinations live with the tests; imported only when asked for.
      const { startDemoSimulators } = await import('../test/sim/launcher.ts').catch(() => {
        throw new Error('the demo simulators come with the source checkout (npm start), not with the package');
      });
      simulators = await startDemoSimulators(loadConfig(configFile).config, log.child({ module: 'sim' }));
    }
    await agent.start();
    await simulators?.startDevices();
  } catch (err) {
    await agent.stop('start failed').catch(() => undefined);
    await simulators?.stop();
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration is invalid; the agent will not start:\n${err.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
      return { problems: err.problems };
    }
    log.fatal({ err }, 'could not start');
    return 'failed';
  }
  const reason = await Promise.race([stopSignal, restart.then(() => 'restart requested')]);
  log.info({ reason }, 'stop requested');
  // Within systemd's TimeoutStopSec (45 s): a component that will not stop does not hold the box.
  const deadline = setTimeout(() => {
    log.error('graceful stop took longer than 40 s; exiting anyway');
    process.exit(1);
  }, 40_000).unref();
  await agent.stop(reason);
  await simulators?.stop();
  clearTimeout(deadline);
  return reason === 'restart requested' ? 'restart' : 'stopped';
}
