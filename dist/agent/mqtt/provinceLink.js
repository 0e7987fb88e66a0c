import mqtt from 'mqtt';
import { boxTopic } from "./topics.js";
/** Reconnect delay: exponential from 1 s to 2 min with full jitter, so 200 boxes spread out. */
export function reconnectDelay(failures, random = Math.random) {
    const cap = Math.min(120_000, 1_000 * 2 ** Math.min(failures, 10));
    return Math.round(cap / 2 + random() * (cap / 2));
}
/**
 * The box as a client of the province's broker: retained `state` with an "offline" last will,
 * retained periodic `health`. Reconnects with jittered backoff, forever.
 */
export class ProvinceLink {
    config;
    box;
    log;
    health;
    client = null;
    failures = 0;
    timer = null;
    healthTimer = null;
    stopped = false;
    connected = false;
    constructor(config, box, log, health) {
        this.config = config;
        this.box = box;
        this.log = log;
        this.health = health;
    }
    topic(...rest) {
        return boxTopic(this.config.topicRoot, this.box.facility, this.box.id, ...rest);
    }
    start() {
        this.stopped = false;
        this.connect();
    }
    connect() {
        const client = mqtt.connect(this.config.url, {
            clientId: `${this.box.facility}-${this.box.id}`,
            username: this.config.username,
            password: this.config.password,
            clean: true,
            reconnectPeriod: 0,
            connectTimeout: 15_000,
            keepalive: 30,
            will: { topic: this.topic('state'), payload: Buffer.from(JSON.stringify({ state: 'offline', reason: 'connection lost' })), qos: 1, retain: true },
        });
        this.client = client;
        client.on('connect', () => {
            this.failures = 0;
            this.connected = true;
            this.log.info({ url: this.config.url }, 'connected to the province broker');
            client.publish(this.topic('state'), JSON.stringify({ state: 'online', at: new Date().toISOString() }), { qos: 1, retain: true });
            this.publishHealth();
            this.healthTimer = setInterval(() => this.publishHealth(), this.config.healthIntervalSeconds * 1000);
            this.healthTimer.unref();
        });
        client.on('error', (err) => this.log.warn({ err: err.message }, 'province broker error'));
        client.on('close', () => {
            this.connected = false;
            if (this.healthTimer)
                clearInterval(this.healthTimer);
            this.healthTimer = null;
            if (this.stopped || this.client !== client)
                return;
            client.end(true);
            const delay = reconnectDelay(this.failures++);
            this.log.info({ inMs: delay }, 'province broker unreachable; reconnecting later');
            this.timer = setTimeout(() => this.connect(), delay);
            this.timer.unref();
        });
    }
    publishHealth() {
        this.client?.publish(this.topic('health'), JSON.stringify(this.health()), { qos: 0, retain: true });
    }
    async stop() {
        this.stopped = true;
        if (this.timer)
            clearTimeout(this.timer);
        if (this.healthTimer)
            clearInterval(this.healthTimer);
        const client = this.client;
        this.client = null;
        if (!client)
            return;
        // A broker that stopped answering must not hold the shutdown: 3 s, then hang up.
        const bounded = (p) => Promise.race([p, new Promise((r) => setTimeout(r, 3_000).unref())]);
        if (client.connected) {
            await bounded(new Promise((r) => client.publish(this.topic('state'), JSON.stringify({ state: 'offline', reason: 'stopped' }), { qos: 1, retain: true }, () => r())));
        }
        await bounded(new Promise((r) => client.end(false, {}, () => r())));
        client.end(true);
    }
}
