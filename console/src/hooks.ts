import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, messageOf } from './api';

export type Scheme = 'light' | 'dark';

const darkQuery = () => window.matchMedia('(prefers-color-scheme: dark)');

export function useColorScheme(): Scheme {
  const [scheme, setScheme] = useState<Scheme>(() =>
    darkQuery().matches ? 'dark' : 'light',
  );
  useEffect(() => {
    const query = darkQuery();
    const changed = () => setScheme(query.matches ? 'dark' : 'light');
    query.addEventListener('change', changed);
    return () => query.removeEventListener('change', changed);
  }, []);
  return scheme;
}

export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** A clock for "age" and "ago" columns, so they move between two polls. */
export function useNow(everyMs = 1_000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export interface Poll<T> {
  data?: T;
  error?: string;
  /** When the last answer came. */
  at?: number;
  refresh: () => void;
}

/**
 * Fetches now and every `everyMs` after the previous answer (never two at once), while the tab is
 * visible; a change of `key` aborts the request in flight and starts over at once.
 */
export function usePoll<T>(
  fetcher: (signal: AbortSignal) => Promise<T>,
  everyMs: number,
  key: string,
): Poll<T> {
  const [state, setState] = useState<{ data?: T; error?: string; at?: number }>(
    {},
  );
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const kick = useRef<() => void>(() => {});

  useEffect(() => {
    let timer: number | undefined;
    let controller: AbortController | undefined;
    let alive = true;

    const tick = async () => {
      clearTimeout(timer);
      controller?.abort();
      if (document.visibilityState === 'hidden') return;
      const mine = new AbortController();
      controller = mine;
      try {
        const data = await fetcherRef.current(mine.signal);
        if (alive && !mine.signal.aborted) setState({ data, at: Date.now() });
      } catch (err) {
        if (mine.signal.aborted || !alive) return;
        // A 401 has already sent the page to the login; its message would only flash.
        if (err instanceof ApiError && err.status === 401) return;
        setState((s) => ({ ...s, error: messageOf(err) }));
      }
      if (alive && controller === mine)
        timer = window.setTimeout(() => void tick(), everyMs);
    };
    const visible = () => {
      if (document.visibilityState === 'visible') void tick();
    };
    kick.current = () => void tick();
    document.addEventListener('visibilitychange', visible);
    void tick();
    return () => {
      alive = false;
      clearTimeout(timer);
      controller?.abort();
      document.removeEventListener('visibilitychange', visible);
    };
  }, [key, everyMs]);

  return { ...state, refresh: () => kick.current() };
}
