import { createRequire } from 'node:module';
export function createNotifier(env = process.env) {
    const path = env.NOTIFY_SOCKET;
    let socket = null;
    if (path) {
        const require = createRequire(import.meta.url);
        const unix = require('unix-dgram');
        socket = unix.createSocket('unix_dgram');
        socket.on('error', () => undefined);
    }
    // Abstract socket names start with '@' in the variable and NUL on the wire.
    const target = path?.startsWith('@') ? `\0${path.slice(1)}` : path;
    const send = (text) => {
        if (!socket || !target)
            return;
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
            if (!usec || (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid))
                return null;
            return Math.max(1000, Math.floor(usec / 1000 / 2));
        },
        close: () => socket?.close(),
    };
}
