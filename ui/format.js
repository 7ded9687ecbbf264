// Numbers in words a person reads: sizes, speeds, durations, times.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(bytes)) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatSpeed(bytesPerSecond) {
  if (!bytesPerSecond) return '—';
  return `${formatBytes(bytesPerSecond)}/s`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86_400)
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
}

export function formatAgo(ms, now = Date.now()) {
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 5) return 'just now';
  return `${formatDuration(seconds)} ago`;
}

/** "500K", "2M", "1.5 MiB/s", "0" → bytes (per second); null when it is not a size. */
export function parseSize(text) {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?(?:\/s)?\s*$/i.exec(String(text));
  if (!match) return null;
  const power = ' kmgt'.indexOf(match[2].toLowerCase() || ' ');
  return Math.round(Number(match[1]) * 1024 ** power);
}

/** A size in the short form parseSize reads back ("2M"); "0" for none. */
export function sizeInput(bytes) {
  if (!bytes) return '0';
  for (const [suffix, power] of [
    ['G', 3],
    ['M', 2],
    ['K', 1],
  ]) {
    const value = bytes / 1024 ** power;
    if (value >= 1 && Number.isInteger(Math.round(value * 100) / 100)) return `${value}${suffix}`;
  }
  return String(bytes);
}
