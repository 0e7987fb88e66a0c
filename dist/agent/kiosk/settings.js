export const DEFAULT_KIOSK_SETTINGS = {
    allowedOrigins: [],
    identityTtlSeconds: 300,
    lookupLimits: { perKioskPerMinute: 6, perKioskBurst: 6, perIdNumber: 3, perIdNumberWindowMinutes: 10 },
    checkinPerMinute: 20,
    feedbackPerMinute: 10,
};
/** The kiosk block of the configuration (any shape the loader gave) with defaults filled. */
export function kioskSettings(block) {
    const b = (block ?? {});
    return {
        allowedOrigins: b.allowedOrigins ?? DEFAULT_KIOSK_SETTINGS.allowedOrigins,
        identityTtlSeconds: b.identityTtlSeconds ?? DEFAULT_KIOSK_SETTINGS.identityTtlSeconds,
        lookupLimits: { ...DEFAULT_KIOSK_SETTINGS.lookupLimits, ...b.lookupLimits },
        checkinPerMinute: b.checkinPerMinute ?? DEFAULT_KIOSK_SETTINGS.checkinPerMinute,
        feedbackPerMinute: b.feedbackPerMinute ?? DEFAULT_KIOSK_SETTINGS.feedbackPerMinute,
    };
}
