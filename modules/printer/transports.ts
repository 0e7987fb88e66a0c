import { createConnection, type Socket } from 'node:net';
import { open, type FileHandle } from 'node:fs/promises';
import { SerialPort } from 'serialport';

/** How bytes reach a printer. One connection per job: printers often hold just one client. */
export interface PrinterTransport {
  readonly description: string;
  open(): Promise<void>;
  write(bytes: Buffer): Promise<void>;
  /** Reads `n` bytes or resolves null after timeoutMs (printers without a back channel never answer). */
  read(n: number, timeoutMs: number): Promise<Buffer | null>;
  close(): Promise<void>;
}

/** Collects answers from the printer until a reader takes them. */
class Inbox {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;

  push(b: Buffer): void {
    this.buf = Buffer.concat([this.buf, b]);
    this.waiter?.();
  }

  async take(n: number, timeoutMs: number): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = null;
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  clear(): void {
    this.buf = Buffer.alloc(0);
  }
}

/** Raw TCP, port 9100 (JetDirect style), as on most Ethernet receipt printers. */
export class TcpTransport implements PrinterTransport {
  private socket: Socket | null = null;
  private readonly inbox = new Inbox();
  private failure: Error | null = null;

  constructor(
    private readonly host: string,
    private readonly port = 9100,
    private readonly connectTimeoutMs = 3000,
  ) {}

  get description(): string {
    return `tcp ${this.host}:${this.port}`;
  }

  open(): Promise<void> {
    this.inbox.clear();
    this.failure = null;
    return new Promise((resolve, reject) => {
      const s = createConnection({ host: this.host, port: this.port });
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no connection to ${this.description} within ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        this.socket = s;
        resolve();
      });
      s.on('data', (d) => this.inbox.push(d));
      s.on('error', (err) => {
        clearTimeout(timer);
        this.failure = err;
        reject(err);
      });
      s.on('close', () => {
        if (this.socket === s) this.socket = null;
      });
    });
  }

  write(bytes: Buffer): Promise<void> {
    const s = this.socket;
    if (!s) return Promise.reject(this.failure ?? new Error(`${this.description} is not connected`));
    return new Promise((resolve, reject) => {
      // Waiting for the callback (bytes handed to the kernel) is the back-pressure that paces bands.
      s.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  read(n: number, timeoutMs: number): Promise<Buffer | null> {
    return this.inbox.take(n, timeoutMs);
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.end(() => resolve());
      setTimeout(resolve, 1000).unref();
    });
    s.destroy();
  }
}

/** A USB printer class device (/dev/usb/lp0) or any character device; read-back depends on the printer. */
export class DeviceFileTransport implements PrinterTransport {
  private handle: FileHandle | null = null;

  constructor(private readonly path: string) {}

  get description(): string {
    return `device ${this.path}`;
  }

  async open(): Promise<void> {
    this.handle = await open(this.path, 'r+').catch(() => open(this.path, 'w'));
  }

  async write(bytes: Buffer): Promise<void> {
    if (!this.handle) throw new Error(`${this.path} is not open`);
    let off = 0;
    while (off < bytes.length) off += (await this.handle.write(bytes, off)).bytesWritten;
  }

  async read(n: number, timeoutMs: number): Promise<Buffer | null> {
    const h = this.handle;
    if (!h) return null;
    const buf = Buffer.alloc(n);
    // usblp reads block until the printer answers; give up after the timeout.
    const result = await Promise.race([h.read(buf, 0, n, null).catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), timeoutMs))]);
    return result && result.bytesRead === n ? buf : null;
  }

  async close(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = null;
  }
}

/** RS-232 receipt printers (serialport package, already used by the lab drivers). */
export class SerialTransport implements PrinterTransport {
  private port: SerialPort | null = null;
  private readonly inbox = new Inbox();

  constructor(
    private readonly path: string,
    private readonly baudRate = 9600,
  ) {}

  get description(): string {
    return `serial ${this.path} @${this.baudRate}`;
  }

  open(): Promise<void> {
    this.inbox.clear();
    return new Promise((resolve, reject) => {
      const p = new SerialPort({ path: this.path, baudRate: this.baudRate, rtscts: false, autoOpen: false });
      p.on('data', (d: Buffer) => this.inbox.push(d));
      p.open((err) => {
        if (err) return reject(err);
        this.port = p;
        resolve();
      });
    });
  }

  write(bytes: Buffer): Promise<void> {
    const p = this.port;
    if (!p) return Promise.reject(new Error(`${this.path} is not open`));
    return new Promise((resolve, reject) => {
      p.write(bytes, (err) => {
        if (err) return reject(err);
        p.drain((e) => (e ? reject(e) : resolve()));
      });
    });
  }

  read(n: number, timeoutMs: number): Promise<Buffer | null> {
    return this.inbox.take(n, timeoutMs);
  }

  async close(): Promise<void> {
    const p = this.port;
    this.port = null;
    if (p?.isOpen) await new Promise<void>((resolve) => p.close(() => resolve()));
  }
}
