import type { AgentConfig, ConfigProblem } from '../../core/contract/config.ts';
import type { ConfigLocator } from '../../core/contract/module.ts';
import { ticketNumber } from './types.ts';

/**
 * Two services called at one counter whose tickets are numbered alike (same prefix and digits):
 * the voice says "Mời số 0001 đến quầy 2" for either. A warning: a department may mean it.
 */
export function queueNumberingWarnings(config: AgentConfig, at: ConfigLocator): ConfigProblem[] {
  type Service = NonNullable<AgentConfig['queue']>['services'][number];
  const services = config.queue?.services ?? [];
  const alike = new Map<string, { a: Service; b: Service; counters: string[] }>();
  for (const counter of config.queue?.counters ?? []) {
    const here = services.filter((s) => counter.services.includes(s.id));
    here.forEach((a, i) => {
      for (const b of here.slice(i + 1)) {
        if (ticketNumber(a, 1) !== ticketNumber(b, 1)) continue;
        const pair = alike.get(`${a.id} ${b.id}`) ?? { a, b, counters: [] };
        pair.counters.push(counter.id);
        alike.set(`${a.id} ${b.id}`, pair);
      }
    });
  }
  return [...alike.values()].map(({ a, b, counters }) => {
    // At the second service: the one to give another prefix.
    const path = ['queue', 'services', services.indexOf(b), 'prefix'];
    return {
      ...at.locate(at.has(path) ? path : path.slice(0, -1)),
      field: path.join('.'),
      message: `services "${a.id}" and "${b.id}" are both numbered ${ticketNumber(b, 1)}… and share counter ${counters.join(', ')}: the voice calls only the number, so give one of them another prefix`,
    };
  });
}
