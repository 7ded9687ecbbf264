/** Parses a speed such as `500K`, `2M`, `1.5MiB` or `800000` (bytes per second; binary units). */
const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Bytes per second, or undefined when `text` is not a speed. 0 means unlimited. */
export function parseByteRate(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\/s)?\s*$/i.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]) * UNITS[match[2]!.toUpperCase()]!;
  return Number.isFinite(value) ? Math.round(value) : undefined;
}
