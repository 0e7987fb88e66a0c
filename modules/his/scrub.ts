import { maskCccd } from '../../core/contract/mask.ts';
import type { HisIdentity } from './contract.ts';

/**
 * A peer's error text may echo the patient's data back (a HIS that says "patient Nguyễn Văn An
 * already registered"). Outcome reasons end up in logs and the dead-letter table, so this masks
 * 12-digit numbers and the identity's own values before a text leaves the adapter.
 */
export function scrubPersonal(text: string, identity?: Partial<HisIdentity>, max = 200): string {
  let out = text.replace(/\b\d{12}\b/g, (d) => maskCccd(d));
  for (const value of [identity?.fullName, identity?.permanentAddress, identity?.dateOfBirth]) {
    if (value && value.length >= 3) out = out.split(value).join('[redacted]');
  }
  return out.length > max ? `${out.slice(0, max)}…` : out;
}
