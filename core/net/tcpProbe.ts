import { connect } from 'node:net';

/**
 * Opens and closes a TCP connection to one of our own listeners, as a device would: proves the
 * port accepts connections (not only that the socket was bound at start). Wildcard binds are
 * probed on loopback.
 */
export function probeTcpListener(host: string, port: number, signal: AbortSignal): Promise<{ ok: boolean; ms: number; error?: string }> {
  const target = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: target, port, signal });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true, ms: Math.round(performance.now() - t0) });
    });
    socket.once('error', (err) => resolve({ ok: false, ms: Math.round(performance.now() - t0), error: (err as NodeJS.ErrnoException).code ?? err.message }));
  });
}
