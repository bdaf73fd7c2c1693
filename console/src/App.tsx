import { useCallback, useEffect, useState } from 'preact/hooks';
import {
  ApiError,
  messageOf,
  onUnauthorized,
  post,
  session as fetchSession,
  setCsrf,
} from './api';
import { ConsoleView } from './ConsoleView';
import { Login } from './Login';
import type { Session } from './types';

// setTimeout fires at once past 2^31 - 1 ms; a longer session simply gets checked again then.
const MAX_TIMER_MS = 2 ** 31 - 1;

export function App() {
  const [checked, setChecked] = useState(false);
  const [session, setSession] = useState<Session | null>(null);
  const [notice, setNotice] = useState<string | undefined>();

  const enter = useCallback((s: Session) => {
    setCsrf(s.csrf);
    setNotice(undefined);
    setSession(s);
  }, []);

  const leave = useCallback((why?: string) => {
    setCsrf('');
    setSession(null);
    setNotice(why);
  }, []);

  useEffect(() => {
    onUnauthorized(() => leave('The session has ended: log in again.'));
    fetchSession()
      .then(enter, (err: unknown) => {
        // No session is the ordinary case; anything else is worth saying.
        if (!(err instanceof ApiError && err.status === 401))
          setNotice(messageOf(err));
      })
      .finally(() => setChecked(true));
  }, [enter, leave]);

  useEffect(() => {
    if (!session) return;
    const timer = window.setTimeout(
      () => {
        if (Date.now() >= session.expiresAt)
          leave('The session has expired: log in again.');
        else
          fetchSession().then(enter, () =>
            leave('The session has expired: log in again.'),
          );
      },
      Math.min(MAX_TIMER_MS, Math.max(0, session.expiresAt - Date.now())),
    );
    return () => clearTimeout(timer);
  }, [session, enter, leave]);

  const logout = useCallback(async () => {
    try {
      await post('/logout');
    } catch {
      // The cookie may already be gone; the page leaves in any case.
    }
    leave(undefined);
  }, [leave]);

  if (!checked) return <main class="login" aria-busy="true" />;
  if (!session) return <Login onLogin={enter} notice={notice} />;
  return <ConsoleView session={session} onLogout={logout} />;
}
