import mqttPacket from 'mqtt-packet';
import { chunksAt, type Rng } from '../lib/rng.ts';
import { oracle, type FuzzTarget } from '../lib/target.ts';
import { MQTT_TOKENS, mqttSessions } from '../seeds.ts';

export const mqttPacketTarget: FuzzTarget = {
  name: 'mqtt.packet',
  about:
    "The MQTT packet parser the LAN broker (aedes, core/mqtt/lanBroker.ts) runs on every client's bytes (mqtt-packet), protocol 3.1.1 and 5, fed mutated client sessions in random chunks. Bad packets must come out as 'error' events, never as an exception; oracle: the packets parsed are the same whatever the split, as long as no error occurred.",
  seeds: () => mqttSessions(),
  tokens: MQTT_TOKENS,
  maxInputBytes: 256 * 1024,
  expected: () => false,
  run(input: Buffer, rng: Rng) {
    const version = rng.chance(0.5) ? 4 : 5;
    const parse = (chunks: Buffer[]): { packets: string[]; errors: number } => {
      const parser = mqttPacket.parser({ protocolVersion: version });
      const packets: string[] = [];
      let errors = 0;
      parser.on('packet', (p) => packets.push(JSON.stringify(p)));
      parser.on('error', () => errors++);
      for (const c of chunks) parser.parse(c);
      return { packets, errors };
    };
    const whole = parse([input]);
    const split = parse(chunksAt(input, rng.splits(input.length, 12)));
    if (whole.errors === 0 && split.errors === 0) {
      const i = whole.packets.findIndex((p, k) => p !== split.packets[k]);
      const first = (whole.packets[i] ?? split.packets[i] ?? '').match(/"cmd":"(\w+)"/)?.[1] ?? 'none';
      oracle(i < 0 && whole.packets.length === split.packets.length, `split changed the packets parsed (first difference in a ${first} packet)`);
    }
  },
};
