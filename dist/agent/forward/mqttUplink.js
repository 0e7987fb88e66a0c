import mqtt from 'mqtt';
import { boxTopic } from "../mqtt/topics.js";
/**
 * Uplink to the province's central ingest over MQTT. The outbox stays the system of record: a
 * broker PUBACK deletes nothing; an item is done only when the central ingest publishes its id
 * on `<root>/v1/<facility>/<box>/ack` ({"ids": [...]}) after storing it. No ack in time: retry
 * with the same id (the ingest drops repeats).
 */
export class MqttUplinkDestination {
    id;
    config;
    log;
    client = null;
    waiting = new Map();
    box;
    root;
    constructor(id, config, log, box) {
        this.id = id;
        this.config = config;
        this.log = log;
        if (!box)
            throw new Error('the MQTT uplink needs the box id and facility');
        this.box = box;
        this.root = config.topicRoot ?? 'edge';
    }
    topic(...rest) {
        return boxTopic(this.root, this.box.facility, this.box.id, ...rest);
    }
    async start() {
        const client = mqtt.connect(this.config.url, {
            clientId: `${this.box.facility}-${this.box.id}-uplink`,
            username: this.config.username,
            password: this.config.password,
            clean: false, // keep the ack subscription across reconnects
            reconnectPeriod: 2_000,
            connectTimeout: 15_000,
        });
        client.on('message', (topic, payload) => {
            if (topic !== this.topic('ack'))
                return;
            try {
                const ack = JSON.parse(payload.toString());
                if (!Array.isArray(ack.ids))
                    return;
                for (const id of ack.ids) {
                    const done = this.waiting.get(String(id));
                    if (done)
                        done();
                }
            }
            catch {
                this.log.warn('ignored an ack that is not JSON');
            }
        });
        client.on('connect', () => client.subscribe(this.topic('ack'), { qos: 1 }));
        client.on('error', (err) => this.log.warn({ err: err.message }, 'uplink broker error'));
        this.client = client;
    }
    async stop() {
        const client = this.client;
        this.client = null;
        if (!client)
            return;
        await Promise.race([new Promise((r) => client.end(false, {}, () => r())), new Promise((r) => setTimeout(r, 3_000).unref())]);
        client.end(true);
    }
    async deliver(item, signal) {
        const client = this.client;
        if (!client?.connected)
            return { result: 'retry', reason: `not connected to ${this.config.url}` };
        const envelope = {
            id: `${this.box.id}:${item.stream}:${item.journalId}`,
            box: this.box.id,
            facility: this.box.facility,
            stream: item.stream,
            sequence: item.journalId,
            idempotencyKey: item.idempotencyKey,
            source: item.source,
            kind: item.kind,
            time: item.receivedAt,
            schema: `${item.stream}/1`,
            body: item.parsed ?? (item.raw ? { base64: item.raw.toString('base64') } : null),
        };
        const acked = new Promise((resolve) => {
            const timeout = setTimeout(() => finish({ result: 'retry', reason: `no ack from the central ingest within ${this.config.ackTimeoutSeconds ?? 30} s` }), (this.config.ackTimeoutSeconds ?? 30) * 1000);
            const onAbort = () => finish({ result: 'retry', reason: 'aborted' });
            const finish = (outcome) => {
                clearTimeout(timeout);
                signal.removeEventListener('abort', onAbort);
                this.waiting.delete(envelope.id);
                resolve(outcome);
            };
            signal.addEventListener('abort', onAbort, { once: true });
            this.waiting.set(envelope.id, () => finish({ result: 'ok', detail: 'acknowledged by the central ingest' }));
        });
        client.publish(this.topic('stream', ...item.stream.split('.')), JSON.stringify(envelope), { qos: 1 }, (err) => {
            if (err)
                this.waiting.get(envelope.id) && this.log.debug({ err: err.message }, 'publish failed; waiting for the ack timeout');
        });
        return acked;
    }
}
export const mqttUplinkDestinationFactory = {
    type: 'mqtt-uplink',
    create: (ctx, config) => new MqttUplinkDestination(ctx.id, config, ctx.log, ctx.box),
};
