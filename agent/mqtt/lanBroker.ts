import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';

/**
 * The embedded MQTT broker for the department LAN: call screens, LED boards and the kiosk
 * subscribe here. It never bridges outward; the province uplink is a separate client.
 */
export class LanBroker {
  private broker: Aedes | null = null;
  private server: Server | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const broker = await Aedes.createBroker();
    broker.on('clientError', (client, err) => this.log.debug({ client: client.id, err: err.message }, 'LAN MQTT client error'));
    const server = createServer(broker.handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.broker = broker;
    this.server = server;
    this.log.info({ host: this.host, port: this.port }, 'LAN MQTT broker listening');
  }

  get address(): { host: string; port: number } {
    const a = this.server?.address();
    return { host: this.host, port: a && typeof a === 'object' ? a.port : this.port };
  }

  publish(topic: string, payload: unknown, retain = false): Promise<void> {
    const broker = this.broker;
    if (!broker) return Promise.resolve();
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    return new Promise((resolve, reject) =>
      broker.publish({ cmd: 'publish', topic, payload: Buffer.from(body), qos: 1, retain, dup: false }, (err) => (err ? reject(err) : resolve())),
    );
  }

  async stop(): Promise<void> {
    const { broker, server } = this;
    this.broker = null;
    this.server = null;
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  }
}
