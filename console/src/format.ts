// Numbers as an operator reads them at a glance: three significant figures at most.

const units = ['', 'k', 'M', 'G', 'T'];

export function count(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  if (v < 1000)
    return sign + (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 1 : 0));
  let i = 0;
  while (v >= 999.5 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return sign + (v < 10 ? v.toFixed(1) : Math.round(v).toString()) + units[i];
}

/** Per-second rates are averages, so small ones keep a decimal: 0.5/s is not 0/s. */
export function rate(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n === 0) return '0';
  const v = Math.abs(n);
  if (v < 0.05) return n > 0 ? '<0.1' : '>-0.1';
  if (v < 100) return n.toFixed(1).replace(/\.0$/, '');
  return count(Math.round(n));
}

const byteUnits = ['B', 'kB', 'MB', 'GB', 'TB'];

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  let v = Math.max(0, n);
  let i = 0;
  while (v >= 999.5 && i < byteUnits.length - 1) {
    v /= 1000;
    i++;
  }
  const shown =
    i === 0
      ? String(Math.round(v))
      : v < 10
        ? v.toFixed(1)
        : String(Math.round(v));
  return `${shown} ${byteUnits[i]}`;
}

/** Two units at most ("5 m 2 s", "3 h 4 m", "2 d 3 h"): the second is only ever a refinement. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  let s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m > 0 ? `${h} h ${m} m` : `${h} h`;
  if (m > 0) return s > 0 ? `${m} m ${s} s` : `${m} m`;
  return `${s} s`;
}

export function ago(at: number | undefined, now: number): string {
  if (at === undefined || !Number.isFinite(at)) return '–';
  const s = (now - at) / 1000;
  return s < 1 ? 'now' : `${duration(s)} ago`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local wall-clock time; the date only when it is not today, which is rare on a live console. */
export function clock(at: number, now = Date.now()): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '–';
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function isoTime(at: number): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export function percent(ratio: number): string {
  if (!Number.isFinite(ratio)) return '–';
  return `${Math.round(Math.min(1, Math.max(0, ratio)) * 100)} %`;
}
