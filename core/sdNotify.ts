import { createRequire } from 'node:module';

/**
 * systemd's sd_notify protocol: datagrams to the unix socket in NOTIFY_SOCKET. Node has no
 * unix datagram sockets, so this uses the small native `unix-dgram` module; outside systemd
 * (no NOTIFY_SOCKET) every call is a no-op.
 */
export interface Notifier {
  ready(status?: string): void;
  watchdog(): void;
  stopping(status?: string): void;
  status(text: string): void;
  /** Watchdog interval systemd expects pings at (half of WatchdogSec), or null. */
  watchdogIntervalMs(): number | null;
  close(): void;
}

interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  close(): void;
  on(event: 'error', listener: (err: Error) => void): void;
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env): Notifier {
  const path = env.NOTIFY_SOCKET;
  let socket: UnixDgramSocket | null = null;
  if (path) {
    const require = createRequire(import.meta.url);
    const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };
    socket = unix.createSocket('unix_dgram');
    socket.on('error', () => undefined);
  }
  // Abstract socket names start with '@' in the variable and NUL on the wire.
  const target = path?.startsWith('@') ? `\0${path.slice(1)}` : path;
  const send = (text: string): void => {
    if (!socket || !target) return;
    const buf = Buffer.from(text);
    socket.send(buf, 0, buf.length, target);
  };
  return {
    ready: (status) => send(`READY=1\nMAINPID=${process.pid}${status ? `\nSTATUS=${status}` : ''}`),
    watchdog: () => send('WATCHDOG=1'),
    stopping: (status) => send(`STOPPING=1${status ? `\nSTATUS=${status}` : ''}`),
    status: (text) => send(`STATUS=${text}`),
    watchdogIntervalMs: () => {
      const usec = Number(env.WATCHDOG_USEC);
      if (!usec || (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid)) return null;
      return Math.max(1000, Math.floor(usec / 1000 / 2));
    },
    close: () => socket?.close(),
  };
}
