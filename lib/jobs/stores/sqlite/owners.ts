/**
 * Which owner records belong to processes that are gone. A record is dead when its heartbeat is older than the
 * lease, or at once when it names a process of this host that no longer exists: that is what lets a restarted
 * process rerun its predecessor's jobs at bootstrap instead of after the lease.
 */

/** When this process started, to the millisecond or so (the same in every thread and module copy). */
export const PROCESS_STARTED_AT = Math.round(Date.now() - process.uptime() * 1000);
/** Two readings of one process's start differ by the clock's rounding; a restart takes longer than this. */
const SAME_START_MS = 1_000;

export interface OwnerRecord {
  id: string;
  pid: number;
  hostname: string;
  processStartedAt: number;
  heartbeatAt: number;
}

export function isDeadOwner(owner: OwnerRecord, now: number, leaseMs: number, host: string): boolean {
  if (owner.heartbeatAt < now - leaseMs) return true;
  if (owner.hostname !== host) return false;
  // Our own pid: alive if it is this very process, dead if it is a predecessor that had the pid (pid 1 in a container).
  if (owner.pid === process.pid) return Math.abs(owner.processStartedAt - PROCESS_STARTED_AT) > SAME_START_MS;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
