import { useState } from 'preact/hooks';
import { ApiError, login, messageOf } from './api';
import type { Session } from './types';

interface Props {
  onLogin: (session: Session) => void;
  /** Why the page is here: a session that expired, a console that is off. */
  notice?: string;
}

export function Login({ onLogin, notice }: Props) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const field = form.elements.namedItem('token') as HTMLInputElement;
    const token = field.value;
    if (!token) return;
    setBusy(true);
    setError(undefined);
    try {
      const session = await login(token);
      // The secret is not kept: the cookie and the CSRF value are all the page needs from now on.
      field.value = '';
      onLogin(session);
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) {
        setError(`Too many attempts, try again in ${err.retryAfter ?? 60} s`);
      } else {
        setError(messageOf(err));
      }
      field.select();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit} data-testid="login">
        <h1>Gateway console</h1>
        {notice && <p class="notice">{notice}</p>}
        <label for="token">Console secret or JWT</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          autofocus
          spellcheck={false}
        />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <p class="error" data-testid="login-error" role="alert" hidden={!error}>
          {error}
        </p>
      </form>
    </main>
  );
}
