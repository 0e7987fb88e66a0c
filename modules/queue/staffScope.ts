import type { Principal } from '../../core/contract/http.ts';
import type { QueueConfig, Ticket } from './types.ts';

/**
 * Which counters a logged-in account may act for: an admin and a staff account without a
 * `counters` list, every counter; a staff account with `counters: [q1]`, only q1 (and the tickets
 * waiting in q1's services, sent to q1, or at q1). Kiosks act for no counter.
 */
export class StaffScope {
  constructor(private readonly config: () => Pick<QueueConfig, 'counters'>) {}

  counters(principal: Principal | undefined): string[] {
    const all = this.config().counters.map((c) => c.id);
    // No principal: the guard in front of the route set none (a test harness); it decided alone.
    if (!principal) return all;
    if (principal.kind !== 'user') return [];
    if (principal.role === 'admin' || !principal.counters) return all;
    return all.filter((id) => principal.counters!.includes(id));
  }

  /** Null when allowed, else the refusal's message. */
  counterRefusal(principal: Principal | undefined, counterId: string): string | null {
    if (this.counters(principal).includes(counterId) || !this.config().counters.some((c) => c.id === counterId)) return null;
    return `the account "${userOf(principal)}" may act only for counter${this.counters(principal).length === 1 ? '' : 's'} ${this.counters(principal).join(', ') || '(none)'}, not ${counterId}`;
  }

  ticketRefusal(principal: Principal | undefined, ticket: Ticket): string | null {
    const mine = this.counters(principal);
    const counters = this.config().counters.filter((c) => mine.includes(c.id));
    if (ticket.counter && mine.includes(ticket.counter)) return null;
    if (ticket.targetCounter && mine.includes(ticket.targetCounter)) return null;
    if (!ticket.counter && !ticket.targetCounter && counters.some((c) => c.services.includes(ticket.service))) return null;
    return `the account "${userOf(principal)}" may act only for counter${mine.length === 1 ? '' : 's'} ${mine.join(', ') || '(none)'}; ticket ${ticket.number} belongs to ${ticket.counter ?? ticket.targetCounter ?? `service ${ticket.service}`}`;
  }
}

/** The user an action is recorded under (`by`): the logged-in account, never a name the client sends. */
export function actingUser(principal: Principal | undefined): string | undefined {
  return principal?.kind === 'user' ? principal.user : undefined;
}

function userOf(principal: Principal | undefined): string {
  return principal?.kind === 'user' ? principal.user : principal?.kind === 'kiosk' ? `kiosk ${principal.kioskId}` : '?';
}
