/**
 * Keys a JSON log line names more than once at its top level (pino writes a child logger's
 * bindings and the call's own fields side by side, so `{ device }` twice is easy to miss).
 */
export function repeatedTopLevelKeys(line: string): string[] {
  const seen = new Set<string>();
  const repeated: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      const isKey = depth === 1 && line[j + 1] === ':';
      if (isKey) {
        const key = line.slice(i + 1, j);
        if (seen.has(key)) repeated.push(key);
        seen.add(key);
      }
      i = j;
    }
  }
  return repeated;
}
