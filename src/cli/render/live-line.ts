/**
 * One line at the bottom of a terminal that is redrawn in place (the progress bar), with lines
 * printed above it. No cursor save and restore: lines printed while it is live would be jumped
 * back over and overwritten when it ends (the summary landed on top of the notices).
 */
const CLEAR_LINE = '\r\x1b[2K';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

export interface LiveLine {
  /** Draws `text` in place of the live line. */
  show(text: string): void;
  /** Prints `line` (and a newline) above the live line, then draws the live line again. */
  printAbove(line: string): void;
  /** Removes the live line; what is printed next starts on its row. */
  clear(): void;
}

export function liveLine(stream: NodeJS.WritableStream): LiveLine {
  let current: string | undefined;
  return {
    show(text) {
      stream.write(`${current === undefined ? HIDE_CURSOR : ''}${CLEAR_LINE}${text}`);
      current = text;
    },
    printAbove(line) {
      stream.write(`${CLEAR_LINE}${line}\n${current ?? ''}`);
    },
    clear() {
      if (current === undefined) return;
      stream.write(`${CLEAR_LINE}${SHOW_CURSOR}`);
      current = undefined;
    },
  };
}
