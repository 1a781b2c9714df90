/**
 * Preloaded (`node --import`) into a process under measurement: at exit it writes its peak RSS and
 * the bytes it wrote (/proc/self/io wchar: every write syscall, files and pipes) to $SI_PROBE.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const out = process.env.SI_PROBE;
if (out) {
  process.on('exit', () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const io = readFileSync('/proc/self/io', 'utf8');
    const kb = (re: RegExp, text: string) => Number(re.exec(text)?.[1] ?? 0);
    writeFileSync(out, JSON.stringify({ peak_rss_kb: kb(/VmHWM:\s+(\d+)/, status), wchar: kb(/wchar:\s+(\d+)/, io) }));
  });
}
