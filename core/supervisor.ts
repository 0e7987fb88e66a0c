import type { Logger } from 'pino';
import type { DriverState, DriverStatus } from './contract/driver.ts';
import type { Clock } from './contract/clock.ts';

export interface Restartable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Keeps one driver or destination alive without letting it take the process down: a failed
 * start() or a reported 'error' is logged, shown as status `error`, and followed by a restart
 * with exponential backoff (1 s doubling to 60 s). A stop() that hangs is abandoned after 10 s.
 */
export class Supervisor {
  private status: DriverStatus = { state: 'stopped', since: new Date().toISOString() };
  private restarts = 0;
  private cancelRestart: (() => void) | null = null;
  private stopping = false;
  private current: Restartable | null = null;

  constructor(
    readonly id: string,
    private readonly create: () => Restartable,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly onStatus: (status: DriverStatus) => void,
  ) {}

  get restartCount(): number {
    return this.restarts;
  }

  getStatus(): DriverStatus {
    return this.status;
  }

  /** Status reported by the component itself (through its context). */
  report(state: DriverState, detail?: string, error?: unknown): void {
    const status: DriverStatus = { state, since: new Date(this.clock.now()).toISOString() };
    if (detail) status.detail = detail;
    if (error !== undefined) status.lastError = error instanceof Error ? error.message : String(error);
    this.status = status;
    this.onStatus(status);
    if (state === 'error' && !this.stopping) this.scheduleRestart();
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.report('starting');
    try {
      this.current = this.create();
      await this.current.start();
      if (this.status.state === 'starting') this.report('running');
    } catch (err) {
      this.log.error({ err, component: this.id }, 'failed to start; will retry');
      this.report('error', 'start failed', err);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.cancelRestart?.();
    this.cancelRestart = null;
    const component = this.current;
    this.current = null;
    if (component) {
      await Promise.race([
        component.stop().catch((err) => this.log.warn({ err, component: this.id }, 'stop failed')),
        new Promise((r) => setTimeout(r, 10_000).unref()),
      ]);
    }
    this.report('stopped');
  }

  private scheduleRestart(): void {
    if (this.cancelRestart) return;
    const delay = Math.min(60_000, 1_000 * 2 ** this.restarts);
    this.restarts++;
    this.log.warn({ component: this.id, inMs: delay, restarts: this.restarts }, 'restarting after error');
    this.cancelRestart = this.clock.setTimer(() => {
      this.cancelRestart = null;
      void this.restart();
    }, delay);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    const old = this.current;
    this.current = null;
    await old?.stop().catch(() => undefined);
    if (this.stopping) return;
    await this.start();
  }
}
