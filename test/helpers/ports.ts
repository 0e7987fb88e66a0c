import { createServer } from 'node:net';

/** A TCP port free right now on 127.0.0.1 (for configurations that need a fixed port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.once('error', reject);
  });
}
