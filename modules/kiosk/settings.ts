/**
 * The kiosk's limits, as configured in `kiosk` (schema `$defs.kiosk`) with the schema's
 * defaults repeated here for callers that build the routes without the config loader (tests).
 */
export interface KioskSettings {
  /** Origins a kiosk page may be served from besides the box's own (the request's Host). */
  allowedOrigins: string[];
  /** How long an identity the box read stays usable for a look-up and a check-in. */
  identityTtlSeconds: number;
  lookupLimits: {
    /** Look-ups per kiosk per minute (token bucket refill)… */
    perKioskPerMinute: number;
    /** …and how many may come at once. */
    perKioskBurst: number;
    /** Look-ups of one CCCD number (all kiosks together) per window. */
    perIdNumber: number;
    perIdNumberWindowMinutes: number;
  };
  /** Tickets per kiosk per minute (a patient needs ~15 s per ticket at the screen). */
  checkinPerMinute: number;
  /** Feedback answers per kiosk per minute. */
  feedbackPerMinute: number;
}

export const DEFAULT_KIOSK_SETTINGS: KioskSettings = {
  allowedOrigins: [],
  identityTtlSeconds: 300,
  lookupLimits: { perKioskPerMinute: 6, perKioskBurst: 6, perIdNumber: 3, perIdNumberWindowMinutes: 10 },
  checkinPerMinute: 20,
  feedbackPerMinute: 10,
};

/** The kiosk block of the configuration (any shape the loader gave) with defaults filled. */
export function kioskSettings(block: object | undefined): KioskSettings {
  const b = (block ?? {}) as Partial<KioskSettings>;
  return {
    allowedOrigins: b.allowedOrigins ?? DEFAULT_KIOSK_SETTINGS.allowedOrigins,
    identityTtlSeconds: b.identityTtlSeconds ?? DEFAULT_KIOSK_SETTINGS.identityTtlSeconds,
    lookupLimits: { ...DEFAULT_KIOSK_SETTINGS.lookupLimits, ...b.lookupLimits },
    checkinPerMinute: b.checkinPerMinute ?? DEFAULT_KIOSK_SETTINGS.checkinPerMinute,
    feedbackPerMinute: b.feedbackPerMinute ?? DEFAULT_KIOSK_SETTINGS.feedbackPerMinute,
  };
}
