export function greetingView(entry, replaces) {
    const s = entry.identity.source;
    return {
        identityRef: entry.ref,
        name: s === 'typed' ? '' : entry.identity.fullName.slice(0, 120),
        idLast3: entry.identity.idNumber.slice(-3),
        source: s === 'typed' ? 'typed' : s === 'qr' ? 'qr' : 'chip',
        ...(replaces ? { replaces } : {}),
    };
}
export function lookupView(appointments, insurance, reachable, unreachable) {
    const a = appointments[0];
    return {
        insurance: insurance ? { verdict: insurance.verdict, patientMessage: insurance.patientMessage, nextStep: insurance.nextStep } : null,
        appointment: a ? { time: timeOfDay(a.time), serviceCode: a.serviceCode.slice(0, 64), ...(a.serviceName ? { serviceName: a.serviceName.slice(0, 120) } : {}) } : null,
        hisReachable: reachable,
        message: reachable ? null : unreachable.message,
        nextStep: reachable ? null : unreachable.nextStep,
    };
}
/** "2026-11-22T08:30:00+07:00" → "08:30" (the HIS gives local times); a bare "08:30" stays. */
export function timeOfDay(time) {
    return /T(\d{2}:\d{2})/.exec(time)?.[1] ?? /^(\d{2}:\d{2})/.exec(time)?.[1] ?? '';
}
