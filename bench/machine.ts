/** What the numbers were measured on: printed with every benchmark run. */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

export function machine(): Record<string, string> {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    git: execFileSync('git', ['--version'], { encoding: 'utf8' }).trim(),
    cpu: `${cpu.length} × ${cpu[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    platform: `${process.platform} ${process.arch}`,
  };
}
