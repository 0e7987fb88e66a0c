import mqtt from 'mqtt';
import { pathToFileURL } from 'node:url';
/**
 * Plays the province's central ingest: subscribes to every box's uplinked streams, stores
 * each envelope idempotently by id and acks its id on the box's /ack topic.
 */
export async function startCentralIngest(options) {
    const root = options.topicRoot ?? 'edge';
    const client = await mqtt.connectAsync(options.url, { clientId: `central-ingest-${process.pid}`, clean: true });
    const ingest = {
        stored: new Map(),
        repeats: 0,
        acking: true,
        stop: () => client.endAsync(),
    };
    client.on('message', (topic, payload) => {
        const parts = topic.split('/');
        let envelope;
        try {
            envelope = JSON.parse(payload.toString());
        }
        catch {
            return;
        }
        const id = String(envelope.id);
        if (ingest.stored.has(id))
            ingest.repeats++;
        else
            ingest.stored.set(id, envelope);
        if (ingest.acking)
            client.publish([parts[0], parts[1], parts[2], parts[3], 'ack'].join('/'), JSON.stringify({ ids: [id] }), { qos: 1 });
    });
    await client.subscribeAsync(`${root}/v1/+/+/stream/#`, { qos: 1 });
    return ingest;
}
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
    startCentralIngest({ url: process.argv[2] ?? 'mqtt://127.0.0.1:1884', topicRoot: process.argv[3] }).then(() => console.log('central ingest listening'));
}
