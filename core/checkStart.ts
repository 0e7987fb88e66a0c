import { ConfigError } from './config/load.ts';
import { formatProblem } from './config/types.ts';
import type { EdgeModule } from './contract/module.ts';
import { Agent } from './controller.ts';
import { createLogger } from './log.ts';

/**
 * `edge-agent check-start`: starts the agent with the configuration (store migrated, devices,
 * destinations, HTTP), stops it once it is ready, and says whether it was. The package's upgrade
 * runs it where systemd cannot (a chroot); under systemd it restarts the unit instead.
 */
export async function checkStart(configFile: string, modules: readonly EdgeModule[]): Promise<number> {
  const agent = new Agent({
    configFile,
    modules,
    log: createLogger(process.env.LOG_LEVEL ?? 'warn'),
    notifier: {
      ready: () => undefined,
      stopping: () => undefined,
      watchdog: () => undefined,
      status: () => undefined,
      watchdogIntervalMs: () => null,
      close: () => undefined,
    },
  });
  try {
    await agent.start();
  } catch (err) {
    if (err instanceof ConfigError) for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    else process.stderr.write(`the agent did not start: ${(err as Error).message}\n`);
    await agent.stop('check-start failed').catch(() => undefined);
    return 1;
  }
  await agent.stop('check-start done');
  process.stdout.write(`the agent started (${agent.devices().length} devices, ${agent.destinations().length} destinations) and stopped again\n`);
  return 0;
}
