import { afterEach, describe, expect, it } from 'vitest';
import { QueueError } from '../../../modules/queue/types.ts';
import { queueStats, statsCsv } from '../../../modules/queue/stats.ts';
import { MORNING, fixtureConfig, makeQueue } from './helpers.ts';

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});
function setup(opts: Parameters<typeof makeQueue>[0] = {}) {
  const q = makeQueue(opts);
  cleanup.push(q.close);
  return q;
}

describe('numbering per local day', () => {
  it('numbers each service separately with prefix and padding', async () => {
    const { queue } = setup();
    expect((await queue.issue({ service: 'noi' })).ticket.number).toBe('0001');
    expect((await queue.issue({ service: 'noi' })).ticket.number).toBe('0002');
    expect((await queue.issue({ service: 'xn' })).ticket.number).toBe('X001');
    expect((await queue.issue({ service: 'nhi' })).ticket.number).toBe('0001');
  });

  it('restarts at local midnight (17:00 UTC), not at 07:00 local (00:00 UTC)', async () => {
    // 2026-11-22 06:30 local = 2026-11-21 23:30 UTC
    const { queue, clock } = setup({ start: Date.UTC(2026, 10, 21, 23, 30) });
    const a = await queue.issue({ service: 'noi' });
    expect(a.ticket.day).toBe('2026-11-22');
    clock.advanceTo(Date.UTC(2026, 10, 22, 0, 30)); // 07:30 local, new UTC day
    const b = await queue.issue({ service: 'noi' });
    expect(b.ticket.day).toBe('2026-11-22');
    expect(b.ticket.number).toBe('0002');
    clock.advanceTo(Date.UTC(2026, 10, 22, 16, 59, 59)); // 23:59:59 local
    expect((await queue.issue({ service: 'noi' })).ticket.number).toBe('0003');
    clock.advanceTo(Date.UTC(2026, 10, 22, 17, 0, 0)); // 00:00 local on the 23rd
    const d = await queue.issue({ service: 'noi' });
    expect(d.ticket.day).toBe('2026-11-23');
    expect(d.ticket.number).toBe('0001');
    // Yesterday's waiting tickets are not called today.
    const called = await queue.callNext('q1');
    expect(called.id).toBe(d.ticket.id);
  });
});

describe('priority', () => {
  it('under-6 and 75+ follow from the birth date; other classes are claims confirmed by staff', async () => {
    const { queue } = setup();
    const child = await queue.issue({ service: 'nhi', birthDate: '2021-11-23' }); // 4 years old
    expect(child.ticket.priority).toBe('under6');
    expect(child.ticket.priorityStatus).toBe('auto');
    const six = await queue.issue({ service: 'nhi', birthDate: '2020-11-22' }); // 6 today
    expect(six.ticket.priority).toBeNull();
    const old = await queue.issue({ service: 'noi', birthDate: '1951-11-22' }); // 75 today
    expect(old.ticket.priority).toBe('age75');
    const almost = await queue.issue({ service: 'noi', birthDate: '1951-11-23' });
    expect(almost.ticket.priority).toBeNull();
    const pregnant = await queue.issue({ service: 'noi', claim: 'pregnant' });
    expect(pregnant.ticket.priorityStatus).toBe('claimed');
    await expect(queue.confirmPriority(pregnant.ticket.id, '  ')).rejects.toThrow(QueueError);
    const confirmed = await queue.confirmPriority(pregnant.ticket.id, 'ĐD. Lan');
    expect(confirmed.priorityStatus).toBe('confirmed');
    expect(confirmed.priorityConfirmedBy).toBe('ĐD. Lan');
    await expect(queue.confirmPriority(pregnant.ticket.id, 'x')).rejects.toMatchObject({ code: 'QUEUE_BAD_STATE' });
  });

  it('strict: every priority ticket first, in the configured class order, emergency before all', async () => {
    const { queue } = setup();
    const n1 = await queue.issue({ service: 'noi' });
    const merit = await queue.issue({ service: 'noi', claim: 'merit' });
    const old = await queue.issue({ service: 'noi', birthDate: '1940-01-01' });
    const n2 = await queue.issue({ service: 'noi' });
    const emerg = await queue.issue({ service: 'noi', claim: 'emergency' });
    const order = [];
    for (let i = 0; i < 5; i++) order.push((await queue.callNext('q1')).id);
    expect(order).toEqual([emerg.ticket.id, old.ticket.id, merit.ticket.id, n1.ticket.id, n2.ticket.id]);
    await expect(queue.callNext('q1')).rejects.toMatchObject({ code: 'QUEUE_EMPTY' });
  });

  it('interleave every 3: two normal calls, then one priority, while both wait', async () => {
    const { queue } = setup({ config: { ...fixtureConfig(), counters: [{ id: 'k', number: 7, services: ['nhi'] }] } });
    const normals = [];
    for (let i = 0; i < 6; i++) normals.push((await queue.issue({ service: 'nhi' })).ticket.id);
    const p1 = (await queue.issue({ service: 'nhi', birthDate: '2024-01-01' })).ticket.id;
    const p2 = (await queue.issue({ service: 'nhi', birthDate: '2023-01-01' })).ticket.id;
    const p3 = (await queue.issue({ service: 'nhi', birthDate: '2022-01-01' })).ticket.id;
    const order = [];
    for (let i = 0; i < 9; i++) order.push((await queue.callNext('k')).id);
    expect(order).toEqual([normals[0], normals[1], p1, normals[2], normals[3], p2, normals[4], normals[5], p3]);
  });

  it("the service's priorityOrder decides among classes (the law sets none)", async () => {
    const config = fixtureConfig();
    config.services = config.services.map((s) =>
      s.id === 'noi' ? { ...s, priorityOrder: ['merit', 'pregnant', 'age75', 'under6', 'disability', 'emergency'] } : s,
    );
    const { queue } = setup({ config });
    const old = await queue.issue({ service: 'noi', birthDate: '1940-01-01' });
    const pregnant = await queue.issue({ service: 'noi', claim: 'pregnant' });
    const merit = await queue.issue({ service: 'noi', claim: 'merit' });
    const emergency = await queue.issue({ service: 'noi', claim: 'emergency' });
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await queue.callNext('q1')).id);
    // emergency stays first (alwaysFirst defaults to it), then the configured order.
    expect(order).toEqual([emergency.ticket.id, merit.ticket.id, pregnant.ticket.id, old.ticket.id]);
  });

  it('interleave: emergency is never made to wait its turn; only priority waiting → priority is called', async () => {
    const { queue } = setup({ config: { ...fixtureConfig(), counters: [{ id: 'k', number: 7, services: ['nhi'] }] } });
    const n1 = (await queue.issue({ service: 'nhi' })).ticket.id;
    const e = (await queue.issue({ service: 'nhi', claim: 'emergency' })).ticket.id;
    expect((await queue.callNext('k')).id).toBe(e);
    expect((await queue.callNext('k')).id).toBe(n1);
    const p = (await queue.issue({ service: 'nhi', birthDate: '2024-01-01' })).ticket.id;
    expect((await queue.callNext('k')).id).toBe(p);
  });

  it('interleave keeps its count across a restart (a power cut does not reset the ratio)', async () => {
    const config = { ...fixtureConfig(), counters: [{ id: 'k', number: 7, services: ['nhi'] }] };
    const first = makeQueue({ config });
    const normals = [];
    for (let i = 0; i < 4; i++) normals.push((await first.queue.issue({ service: 'nhi' })).ticket.id);
    const p1 = (await first.queue.issue({ service: 'nhi', birthDate: '2024-01-01' })).ticket.id;
    expect((await first.queue.callNext('k')).id).toBe(normals[0]);
    expect((await first.queue.callNext('k')).id).toBe(normals[1]);
    first.db.close();
    // Same database, a new process: the third call is the priority one, as if nothing happened.
    const second = makeQueue({ config, dir: first.dir });
    cleanup.push(() => {
      second.close();
      first.close();
    });
    expect((await second.queue.callNext('k')).id).toBe(p1);
    expect((await second.queue.callNext('k')).id).toBe(normals[2]);
  });

  it('a rejected claim waits as a normal ticket; unconfirmedClaims=normal ignores claims until confirmed', async () => {
    const { queue } = setup();
    const n = await queue.issue({ service: 'xn' });
    const claim = await queue.issue({ service: 'xn', claim: 'disability' });
    expect(queue.waiting('xn').map((t) => t.id)).toEqual([n.ticket.id, claim.ticket.id]);
    await queue.confirmPriority(claim.ticket.id, 'BS. Minh');
    expect(queue.waiting('xn').map((t) => t.id)).toEqual([claim.ticket.id, n.ticket.id]);
    const c2 = await queue.issue({ service: 'noi', claim: 'pregnant' });
    const n2 = await queue.issue({ service: 'noi' });
    expect(queue.waiting('noi')[0]!.id).toBe(c2.ticket.id);
    await queue.confirmPriority(c2.ticket.id, 'BS. Minh', false);
    expect(queue.waiting('noi').map((t) => t.id)).toEqual([c2.ticket.id, n2.ticket.id]); // issued first anyway
    expect(queue.get(c2.ticket.id).priorityStatus).toBe('rejected');
  });

  it('people ahead counts the tickets that will be called first', async () => {
    const { queue } = setup();
    await queue.issue({ service: 'noi' });
    await queue.issue({ service: 'noi' });
    const p = await queue.issue({ service: 'noi', birthDate: '1930-05-05' });
    expect(p.ahead).toBe(0);
    const n = await queue.issue({ service: 'noi' });
    expect(n.ahead).toBe(3);
  });
});

describe('people ahead', () => {
  it("equals the ticket's place in the waiting order for any mix of classes, claims, rejections and front transfers", async () => {
    const { queue, clock } = setup();
    const classes = [undefined, 'pregnant', undefined, 'merit', 'emergency', undefined, 'disability'] as const;
    for (const service of ['noi', 'xn']) {
      for (let i = 0; i < 21; i++) {
        clock.advance(1000);
        const claim = classes[i % classes.length];
        const birthDate = i % 5 === 0 ? '2023-05-05' : i % 11 === 0 ? '1940-01-01' : undefined;
        const { ticket } = await queue.issue({ service, ...(claim ? { claim } : {}), ...(birthDate ? { birthDate } : {}) });
        if (i % 4 === 1 && ticket.priorityStatus === 'claimed') await queue.confirmPriority(ticket.id, 'BS. Minh', i % 8 === 1);
      }
      // Two transferred to the front of this service.
      const [a, b] = queue.waiting(service).slice(-2);
      await queue.transfer(a!.id, { position: 'front' });
      await queue.transfer(b!.id, { position: 'front' });
    }
    for (const service of ['noi', 'xn']) {
      const order = queue.waiting(service);
      expect(order.length).toBe(21);
      expect(order.some((t) => t.priority && t.priorityStatus === 'claimed')).toBe(true);
      expect(order.some((t) => t.priorityStatus === 'rejected')).toBe(true);
      order.forEach((t, i) => expect({ number: t.number, ahead: queue.peopleAhead(t) }).toEqual({ number: t.number, ahead: i }));
    }
  });
});

describe('counters', () => {
  it("rule 'order' calls from the first listed service that has someone waiting", async () => {
    const { queue } = setup();
    const nhi = await queue.issue({ service: 'nhi' });
    const noi = await queue.issue({ service: 'noi' });
    expect((await queue.callNext('q2')).id).toBe(noi.ticket.id);
    expect((await queue.callNext('q2')).id).toBe(nhi.ticket.id);
  });

  it("rule 'oldest' calls the longest waiting across services; 'round-robin' takes turns", async () => {
    const { queue, clock } = setup();
    const nhi = await queue.issue({ service: 'nhi' });
    clock.advance(1000);
    const noi = await queue.issue({ service: 'noi' });
    clock.advance(1000);
    const noi2 = await queue.issue({ service: 'noi' });
    expect((await queue.callNext('q4')).id).toBe(nhi.ticket.id);
    expect((await queue.callNext('q4')).id).toBe(noi.ticket.id);
    const nhi2 = await queue.issue({ service: 'nhi' });
    expect((await queue.callNext('q5')).id).toBe(noi2.ticket.id);
    expect((await queue.callNext('q5')).id).toBe(nhi2.ticket.id);
  });

  it('call next finishes the current ticket; finish and serve record times; issue time never changes', async () => {
    const { queue, clock } = setup();
    const a = await queue.issue({ service: 'noi' });
    await queue.issue({ service: 'noi' });
    clock.advance(5 * 60_000);
    await queue.callNext('q1');
    clock.advance(60_000);
    await queue.startServing('q1');
    clock.advance(4 * 60_000);
    const b = await queue.callNext('q1');
    const done = queue.get(a.ticket.id);
    expect(done.state).toBe('done');
    expect(done.doneAt! - done.servingAt!).toBe(4 * 60_000);
    expect(done.issuedAt).toBe(MORNING);
    expect(queue.currentAt('q1')!.id).toBe(b.id);
    await queue.finish('q1');
    expect(queue.currentAt('q1')).toBeNull();
    await expect(queue.finish('q1')).rejects.toMatchObject({ code: 'QUEUE_BAD_STATE' });
    await expect(queue.callNext('nope')).rejects.toMatchObject({ code: 'QUEUE_UNKNOWN_COUNTER' });
  });
});

describe('skip and late recall', () => {
  it('recalls a skipped ticket within the tolerance, refuses after it', async () => {
    const { queue } = setup(); // xn tolerance 2
    const tickets = [];
    for (let i = 0; i < 6; i++) tickets.push((await queue.issue({ service: 'xn' })).ticket);
    await queue.callNext('q3');
    const skipped = await queue.skip('q3');
    expect(skipped.state).toBe('skipped');
    await queue.callNext('q3');
    await queue.callNext('q3'); // 2 calls since the skip: still within tolerance 2
    const back = await queue.recall('q3', tickets[0]!.id);
    expect(back.state).toBe('called');
    expect(back.counter).toBe('q3');
    expect(queue.get(tickets[2]!.id).state).toBe('done'); // the ticket at the counter was finished
    // Second no-show
    await queue.skip('q3');
    for (let i = 0; i < 3; i++) await queue.callNext('q3');
    await expect(queue.recall('q3', tickets[0]!.id)).rejects.toMatchObject({ code: 'QUEUE_TOLERANCE_EXCEEDED' });
    expect(queue.snapshot().recallable).toEqual([]);
  });

  it('recall without a ticket calls the current one again and keeps the first call time', async () => {
    const { queue, clock } = setup();
    await queue.issue({ service: 'noi' });
    const first = await queue.callNext('q1');
    clock.advance(30_000);
    const again = await queue.recall('q1');
    expect(again.firstCalledAt).toBe(first.firstCalledAt);
    expect(again.lastCalledAt).toBe(first.firstCalledAt! + 30_000);
    expect(again.calls).toBe(2);
  });
});

describe('transfer and cancel', () => {
  it('transfers to another service at the end or the front, keeping the issue time', async () => {
    const { queue, clock } = setup();
    const x1 = await queue.issue({ service: 'xn' });
    const x2 = await queue.issue({ service: 'xn' });
    const a = await queue.issue({ service: 'noi' });
    await queue.callNext('q1');
    clock.advance(10 * 60_000);
    const moved = await queue.transfer(a.ticket.id, { service: 'xn', position: 'end', by: 'BS. Hùng' });
    expect(moved.issuedAt).toBe(a.ticket.issuedAt);
    expect(moved.number).toBe(a.ticket.number);
    expect(queue.waiting('xn').map((t) => t.id)).toEqual([x1.ticket.id, x2.ticket.id, a.ticket.id]);
    expect(queue.currentAt('q1')).toBeNull();
    await queue.transfer(a.ticket.id, { service: 'xn', position: 'front' });
    expect((await queue.callNext('q3')).id).toBe(a.ticket.id);
  });

  it('a transfer to a counter is called only by that counter, first when sent to the front', async () => {
    const { queue } = setup();
    const n1 = await queue.issue({ service: 'noi' });
    const n2 = await queue.issue({ service: 'noi' });
    const back = await queue.issue({ service: 'nhi' });
    await queue.callNext('q5'); // noi n1 (round-robin starts with noi)
    await queue.transfer(back.ticket.id, { service: 'noi', counter: 'q2', position: 'front' });
    expect((await queue.callNext('q1')).id).toBe(n2.ticket.id);
    expect((await queue.callNext('q2')).id).toBe(back.ticket.id);
    await expect(queue.transfer(back.ticket.id, { service: 'xn', counter: 'q1', position: 'end' })).rejects.toMatchObject({ code: 'QUEUE_BAD_INPUT' });
    expect(queue.get(n1.ticket.id).state).toBe('called');
  });

  it('cancel removes a ticket from the waiting list; done tickets cannot be cancelled', async () => {
    const { queue } = setup();
    const a = await queue.issue({ service: 'noi' });
    await queue.cancel(a.ticket.id, 'admin');
    expect(queue.waiting('noi')).toEqual([]);
    await expect(queue.cancel(a.ticket.id)).rejects.toMatchObject({ code: 'QUEUE_BAD_STATE' });
  });
});

describe('events', () => {
  it('publishes every change and a retained snapshot per service on the bus', async () => {
    const { queue, domain } = setup();
    const seen: string[] = [];
    queue.onEvent((e) => seen.push(e.type));
    const a = await queue.issue({ service: 'noi', claim: 'pregnant' });
    await queue.callNext('q1');
    await queue.confirmPriority(a.ticket.id, 'ĐD. Hoa');
    await queue.skip('q1');
    await queue.recall('q1', a.ticket.id);
    await queue.finish('q1');
    expect(seen).toEqual(['issued', 'called', 'priority-confirmed', 'skipped', 'recalled', 'finished']);
    expect(domain.filter((d) => d.topic === 'queue/noi/evt')).toHaveLength(6);
    const snaps = domain.filter((d) => d.topic === 'queue/noi/snapshot');
    expect(snaps).toHaveLength(6);
    expect(snaps.every((s) => s.retain === true)).toBe(true);
    expect(snaps[1]!.body).toMatchObject({ waiting: 0, serving: [{ counter: 'q1', number: '0001', priority: true }] });
    const snap = queue.snapshot();
    expect(snap.recentCalls.map((c) => c.type)).toEqual(['recalled', 'called']);
    expect(snap.recentCalls[0]).toMatchObject({ number: '0001', counterNumber: 1, priority: true });
  });
});

describe('statistics', () => {
  it('waiting time, service time and no-show rate per service, priority and hour, with CSV', async () => {
    const { queue, clock } = setup();
    const a = await queue.issue({ service: 'noi' }); // 08:00
    clock.advance(60 * 60_000); // 09:00
    await queue.issue({ service: 'noi', birthDate: '1940-01-01' });
    await queue.issue({ service: 'xn' });
    clock.advance(10 * 60_000);
    await queue.callNext('q1'); // age75: waited 10 min
    clock.advance(5 * 60_000);
    await queue.callNext('q1'); // finishes age75 (5 min), calls a: waited 75 min
    await queue.skip('q1');
    await queue.callNext('q3'); // xn waited 15 min
    await queue.finish('q3');
    const stats = queueStats(queue, '2026-11-22', '2026-11-22');
    const row = (d: string, k: string) => stats.rows.find((r) => r.dimension === d && r.key === k)!;
    expect(row('all', 'all')).toMatchObject({ issued: 3, called: 3, served: 2, noShows: 1, noShowRate: 0.33, maxWaitMin: 75 });
    expect(row('service', 'noi')).toMatchObject({ issued: 2, avgWaitMin: 42.5, avgServiceMin: 5, noShows: 1, noShowRate: 0.5 });
    expect(row('priority', 'age75')).toMatchObject({ issued: 1, avgWaitMin: 10 });
    expect(row('hour', '08')).toMatchObject({ issued: 1, avgWaitMin: 75 });
    expect(row('hour', '09')).toMatchObject({ issued: 2 });
    const csv = statsCsv(stats);
    expect(csv.split('\r\n')[0]).toBe('dimension,key,issued,called,served,noShows,cancelled,noShowRate,avgWaitMin,p90WaitMin,maxWaitMin,avgServiceMin');
    expect(csv).toContain('service,noi,2,2,1,1,0,0.5,42.5,75,75,5\r\n');
    expect(queue.get(a.ticket.id).issuedAt).toBe(MORNING);
  });
});
