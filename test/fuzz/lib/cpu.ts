import { readFileSync, readlinkSync } from 'node:fs';

/**
 * CPU time of one thread (Linux /proc, 10 ms ticks). The fuzz run shares the CPU with the test
 * suites at nice 19, where wall time says little: a 100 ms parse can take seconds of wall
 * time. "Slow" and "hang" are judged on the CPU the input really used.
 */
const TICK_MS = 10; // CLK_TCK is 100 on every Linux the box runs

function cpuOf(statPath: string): number | null {
  try {
    const stat = readFileSync(statPath, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", field 3 (state) is index 0: utime (14) and stime (15) are 11 and 12.
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return null;
  }
}

/** CPU ms used so far by the calling thread, or null off Linux. */
export function threadCpuMs(): number | null {
  return cpuOf('/proc/thread-self/stat');
}

/** The calling thread's id (for another thread to watch it), or 0 off Linux. */
export function threadId(): number {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return 0;
  }
}

/** CPU ms used so far by thread `tid` of this process, or null. */
export function cpuMsOfThread(tid: number): number | null {
  return tid ? cpuOf(`/proc/self/task/${tid}/stat`) : null;
}
