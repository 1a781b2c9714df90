/** A Context for core functions under test: an injected clock and timers, captured log lines and output. */
import { quietContext, type Context, type LogFields, type LogLevel, type Timers } from '../../src/context.js';
import { testEnv } from './env.js';

export interface LogLine {
  level: LogLevel;
  event: string;
  fields: LogFields;
}

export interface TestContext extends Context {
  logs: LogLine[];
  out: string[];
  events(name: string): LogLine[];
}

export function testContext(opts: { now?: () => Date; cwd?: string; env?: NodeJS.ProcessEnv; timers?: Timers } = {}): TestContext {
  const logs: LogLine[] = [];
  const out: string[] = [];
  return {
    ...quietContext({ cwd: opts.cwd ?? '/', now: opts.now ?? (() => new Date()), env: opts.env ?? testEnv(), ...(opts.timers ? { timers: opts.timers } : {}) }),
    logger: { log: (level, event, fields = {}) => void logs.push({ level, event, fields }) },
    stdout: (text) => void out.push(text),
    logs,
    out,
    events: (name) => logs.filter((l) => l.event === name),
  };
}
