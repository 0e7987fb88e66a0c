// The clips that say one call: "Mời số [ưu tiên] không một hai ba đến quầy số hai".
// The ticket is read character by character (digits one by one, prefix letters by name);
// the counter as a number. Shared by the call screen and its tests.
export function phraseClips(number, counterNumber, priority) {
  const clips = ['chime', 'moi-so'];
  if (priority) clips.push('uu-tien');
  for (const ch of String(number).toLowerCase()) {
    if (ch >= '0' && ch <= '9') clips.push(`digit-${ch}`);
    else if (ch >= 'a' && ch <= 'z') clips.push(`letter-${ch}`);
  }
  clips.push('den-quay');
  const n = Number(counterNumber);
  if (Number.isInteger(n) && n >= 1 && n <= 99) clips.push(`num-${n}`);
  else for (const ch of String(counterNumber)) if (ch >= '0' && ch <= '9') clips.push(`digit-${ch}`);
  return clips;
}
