import { describe, expect, it } from 'vitest';
import { domainEvent, EventBus, topicMatches } from '../../../core/contract/events.ts';

// Declared domain events (issue #18): the visibility is the key's, not the caller's, so a
// personal event cannot reach the LAN broker by a publish that forgot; topics fill the pattern.
describe('declared domain events', () => {
  const PERSONAL = domainEvent<{ idNumber: string }>('card/identity', 'local');
  const CALLS = domainEvent<{ number: string }>('queue/+/evt', 'lan');

  it('publishes with the declared visibility and checks the topic against the pattern', () => {
    const bus = new EventBus();
    const seen: Array<{ topic: string; visibility: string }> = [];
    bus.on('test', 'domain.event', (e) => void seen.push({ topic: e.topic, visibility: e.visibility }));
    bus.publish(PERSONAL, { idNumber: '079190001234' });
    bus.publish(CALLS, { number: '0001' }, { topic: 'queue/noi/evt' });
    expect(seen).toEqual([
      { topic: 'card/identity', visibility: 'local' },
      { topic: 'queue/noi/evt', visibility: 'lan' },
    ]);
    expect(() => bus.publish(CALLS, { number: '0002' }, { topic: 'card/identity' })).toThrow(/is not "queue\/\+\/evt"/);
  });

  it('delivers to subscribers of the pattern only, with the topic', () => {
    const bus = new EventBus();
    const got: string[] = [];
    bus.subscribe('test', CALLS, (body, topic) => void got.push(`${topic} ${body.number}`));
    bus.publish(PERSONAL, { idNumber: '079190001234' });
    bus.publish(CALLS, { number: '0003' }, { topic: 'queue/nhi/evt' });
    expect(got).toEqual(['queue/nhi/evt 0003']);
    expect(topicMatches('dev/+/alarm/+', 'dev/xn1/alarm/clock-skew')).toBe(true);
    expect(topicMatches('dev/+/alarm/+', 'dev/xn1/alarm')).toBe(false);
  });
});
