/**
 * Time under the test's control: timestamps from a fixed origin, a clock that moves only when told,
 * and timers that fire only when the test advances them — so that nothing depends on machine speed.
 */
import type { TimerHandle, Timers } from '../../src/context.js';

/** The origin of every test timestamp. */
export const T0 = Date.UTC(2026, 0, 1);

/** The ISO timestamp `s` seconds after T0. */
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

export interface ManualClock {
  now: () => Date;
  advance(ms: number): void;
  set(ms: number): void;
}

/** A clock that only moves when told to. */
export function manualClock(start = Date.UTC(2026, 5, 1, 12)): ManualClock {
  let t = start;
  return { now: () => new Date(t), advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

export interface FakeTimers extends Timers {
  readonly clock: ManualClock;
  /** Timers not yet fired or cleared. */
  pending(): number;
  /**
   * Moves the clock `ms` on, firing every timer that falls due on the way in time order (an interval
   * again at each period), the clock standing at each one's due time while it runs.
   */
  advance(ms: number): void;
  /** Moves the clock to the next due timer and fires it; false when none is pending. */
  next(): boolean;
}

interface Scheduled {
  id: number;
  due: number;
  every: number | null;
  fn: () => void;
}

/** Timers driven by hand, on `clock` (a fresh manual clock by default). */
export function fakeTimers(clock: ManualClock = manualClock()): FakeTimers {
  let nextId = 1;
  const scheduled = new Map<number, Scheduled>();
  const add = (fn: () => void, ms: number, every: boolean): TimerHandle => {
    const id = nextId++;
    scheduled.set(id, { id, due: clock.now().getTime() + Math.max(0, ms), every: every ? Math.max(1, ms) : null, fn });
    return id;
  };
  const clear = (h: TimerHandle) => void scheduled.delete(h as number);
  const soonest = (): Scheduled | undefined => [...scheduled.values()].sort((a, b) => a.due - b.due || a.id - b.id)[0];
  const fire = (s: Scheduled) => {
    clock.set(s.due);
    if (s.every === null) scheduled.delete(s.id);
    else s.due += s.every;
    s.fn();
  };
  return {
    clock,
    setTimeout: (fn, ms) => add(fn, ms, false),
    setInterval: (fn, ms) => add(fn, ms, true),
    clearTimeout: clear,
    clearInterval: clear,
    pending: () => scheduled.size,
    advance(ms) {
      const end = clock.now().getTime() + ms;
      for (let s = soonest(); s && s.due <= end; s = soonest()) fire(s);
      clock.set(end);
    },
    next() {
      const s = soonest();
      if (!s) return false;
      fire(s);
      return true;
    },
  };
}
