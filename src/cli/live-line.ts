/**
 * A one-line summary kept at the bottom of a terminal while log lines scroll above it. The summary
 * is on stdout, log lines on stderr (usually the same terminal): before a log line the summary's
 * line is cleared, after it the summary is drawn again, so a log line never continues the summary's
 * text. The summary is cut to the terminal's width, so it never wraps (a wrapped line could not be
 * cleared with one escape).
 */
export interface Terminal {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The terminal's width now (it may be resized), or undefined when unknown. */
  columns: () => number | undefined;
}

/** Carriage return, then erase the whole line. */
export const CLEAR_LINE = '\r\x1b[2K';

export class LiveLine {
  private shown = false;

  constructor(
    private readonly term: Terminal,
    private readonly render: () => string,
  ) {}

  /** Draws the summary again (in place of the previous one). */
  refresh(): void {
    this.term.stdout(`${CLEAR_LINE}${fit(this.render(), this.term.columns())}`);
    this.shown = true;
  }

  /** Writes a whole log line above the summary. */
  log(line: string): void {
    if (this.shown) this.term.stdout(CLEAR_LINE);
    this.term.stderr(line.endsWith('\n') ? line : `${line}\n`);
    this.refresh();
  }

  /** Leaves the summary as the terminal's last line and moves past it. */
  close(): void {
    if (this.shown) this.term.stdout('\n');
    this.shown = false;
  }
}

/**
 * `text` cut to fit in `columns` − 1 (the last column would make some terminals wrap), ending with
 * '…' when cut; whole when the width is unknown.
 */
export function fit(text: string, columns: number | undefined): string {
  const oneLine = text.replace(/\s*\n\s*/g, ' ');
  if (columns === undefined || columns <= 1) return oneLine;
  const chars = [...oneLine];
  return chars.length <= columns - 1 ? oneLine : `${chars.slice(0, Math.max(0, columns - 2)).join('')}…`;
}
