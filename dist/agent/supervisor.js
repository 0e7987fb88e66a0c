/**
 * Keeps one driver or destination alive without letting it take the process down: a failed
 * start() or a reported 'error' is logged, shown as status `error`, and followed by a restart
 * with exponential backoff (1 s doubling to 60 s). A stop() that hangs is abandoned after 10 s.
 */
export class Supervisor {
    id;
    create;
    log;
    clock;
    onStatus;
    status = { state: 'stopped', since: new Date().toISOString() };
    restarts = 0;
    cancelRestart = null;
    stopping = false;
    current = null;
    constructor(id, create, log, clock, onStatus) {
        this.id = id;
        this.create = create;
        this.log = log;
        this.clock = clock;
        this.onStatus = onStatus;
    }
    get restartCount() {
        return this.restarts;
    }
    getStatus() {
        return this.status;
    }
    /** Status reported by the component itself (through its context). */
    report(state, detail, error) {
        const status = { state, since: new Date(this.clock.now()).toISOString() };
        if (detail)
            status.detail = detail;
        if (error !== undefined)
            status.lastError = error instanceof Error ? error.message : String(error);
        this.status = status;
        this.onStatus(status);
        if (state === 'error' && !this.stopping)
            this.scheduleRestart();
    }
    async start() {
        this.stopping = false;
        this.report('starting');
        try {
            this.current = this.create();
            await this.current.start();
            if (this.status.state === 'starting')
                this.report('running');
        }
        catch (err) {
            this.log.error({ err, component: this.id }, 'failed to start; will retry');
            this.report('error', 'start failed', err);
        }
    }
    async stop() {
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
    scheduleRestart() {
        if (this.cancelRestart)
            return;
        const delay = Math.min(60_000, 1_000 * 2 ** this.restarts);
        this.restarts++;
        this.log.warn({ component: this.id, inMs: delay, restarts: this.restarts }, 'restarting after error');
        this.cancelRestart = this.clock.setTimer(() => {
            this.cancelRestart = null;
            void this.restart();
        }, delay);
    }
    async restart() {
        if (this.stopping)
            return;
        const old = this.current;
        this.current = null;
        await old?.stop().catch(() => undefined);
        if (this.stopping)
            return;
        await this.start();
    }
}
