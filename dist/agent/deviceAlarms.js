const ALARM_TOPIC = /^dev\/([^/]+)\/alarm\/([^/]+)$/;
/**
 * The active alarms per device, from the `dev/<id>/alarm/<name>` domain events drivers publish
 * (the same retained messages the LAN broker carries), so the console can show them next to the
 * device's status.
 */
export class DeviceAlarms {
    active = new Map();
    constructor(bus) {
        bus.on('device-alarms', 'domain.event', ({ topic, body }) => {
            const m = ALARM_TOPIC.exec(topic);
            if (!m)
                return;
            const [, device, name] = m;
            const fields = (body ?? {});
            const alarms = this.active.get(device) ?? new Map();
            if (fields.active === false)
                alarms.delete(name);
            else
                alarms.set(name, fields);
            this.active.set(device, alarms);
        });
    }
    for(device) {
        return [...(this.active.get(device) ?? new Map())].map(([name, fields]) => ({ ...fields, name }));
    }
}
