import { EventEmitter } from 'node:events';
/**
 * Typed event bus. Listeners are registered under an owner key so a module's stop()
 * removes all of its listeners in one call (Zigbee2MQTT's pattern).
 */
export class EventBus {
    emitter = new EventEmitter();
    owned = new Map();
    constructor() {
        this.emitter.setMaxListeners(200);
    }
    emit(event, payload) {
        this.emitter.emit(event, payload);
    }
    on(owner, event, listener) {
        // A throwing listener must not break the emitter nor other listeners.
        const safe = (payload) => {
            try {
                listener(payload);
            }
            catch (err) {
                this.emitter.emit('error', err);
            }
        };
        this.emitter.on(event, safe);
        const list = this.owned.get(owner) ?? [];
        list.push([event, safe]);
        this.owned.set(owner, list);
    }
    onError(listener) {
        this.emitter.on('error', listener);
    }
    removeListeners(owner) {
        for (const [event, fn] of this.owned.get(owner) ?? [])
            this.emitter.off(event, fn);
        this.owned.delete(owner);
    }
}
