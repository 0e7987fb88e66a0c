export function publicTicket(queue, t) {
    const svc = queue.config.services.find((s) => s.id === t.service);
    return { id: t.id, number: t.number, service: t.service, state: t.state, counter: t.counter, priority: svc ? queue.isPriority(svc, t) : t.priority !== null };
}
export function publicEvent(queue, e) {
    return { id: e.id, at: e.at, type: e.type, service: e.service, counter: e.counter, ticket: publicTicket(queue, e.ticket) };
}
export function publicSnapshot(queue, s) {
    return { ...s, counters: s.counters.map((c) => ({ ...c, current: c.current ? publicTicket(queue, c.current) : null })) };
}
