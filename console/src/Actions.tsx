import { useState } from 'preact/hooks';
import { messageOf, post } from './api';
import { parseJson } from './json';
import type { BroadcastAnswer, PublishAnswer } from './types';

export interface ActionResult {
  ok: boolean;
  text: string;
}

interface Props {
  result: ActionResult | null;
  onResult: (r: ActionResult) => void;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

export function Actions({ result, onResult }: Props) {
  const [room, setRoom] = useState('');
  const [publishData, setPublishData] = useState('');
  const [broadcastData, setBroadcastData] = useState('');
  const [invalid, setInvalid] = useState<'publish' | 'broadcast' | null>(null);
  const [busy, setBusy] = useState(false);

  const publish = async (e: Event) => {
    e.preventDefault();
    const target = room.trim();
    if (!target) return onResult({ ok: false, text: 'Publish: name a room' });
    const parsed = parseJson(publishData);
    if (!parsed.ok) {
      setInvalid('publish');
      return onResult({ ok: false, text: `Publish: ${parsed.error}` });
    }
    setInvalid(null);
    setBusy(true);
    try {
      const r = await post<PublishAnswer>('/publish', {
        room: target,
        data: parsed.value,
      });
      const offset = r.offset === undefined ? '' : `, offset ${r.offset}`;
      onResult({
        ok: true,
        text: `Published to ${r.room}: ${plural(r.recipients, 'recipient')} on ${plural(r.instances, 'instance')}${offset}`,
      });
    } catch (err) {
      onResult({ ok: false, text: `Publish to ${target}: ${messageOf(err)}` });
    } finally {
      setBusy(false);
    }
  };

  const broadcast = async (e: Event) => {
    e.preventDefault();
    const parsed = parseJson(broadcastData);
    if (!parsed.ok) {
      setInvalid('broadcast');
      return onResult({ ok: false, text: `Broadcast: ${parsed.error}` });
    }
    setInvalid(null);
    setBusy(true);
    try {
      const r = await post<BroadcastAnswer>('/broadcast', {
        data: parsed.value,
      });
      onResult({
        ok: true,
        text: `Broadcast: ${plural(r.recipients, 'recipient')} on ${plural(r.instances, 'instance')}`,
      });
    } catch (err) {
      onResult({ ok: false, text: `Broadcast: ${messageOf(err)}` });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="actions-panel" data-testid="admin-actions">
      <form class="form" onSubmit={publish}>
        <h3>Publish to a room</h3>
        <label>
          Room
          <input
            type="text"
            data-testid="publish-room"
            value={room}
            onInput={(e) => setRoom(e.currentTarget.value)}
          />
        </label>
        <label>
          Data (JSON)
          <textarea
            rows={3}
            spellcheck={false}
            data-testid="publish-data"
            placeholder='{"text": "hello"}'
            aria-invalid={invalid === 'publish' ? 'true' : undefined}
            value={publishData}
            onInput={(e) => setPublishData(e.currentTarget.value)}
          />
        </label>
        <div class="buttons">
          <button
            type="submit"
            class="primary"
            data-testid="publish-submit"
            disabled={busy}
          >
            Publish
          </button>
        </div>
      </form>
      <form class="form" onSubmit={broadcast}>
        <h3>Broadcast to every client</h3>
        <label>
          Data (JSON)
          <textarea
            rows={3}
            spellcheck={false}
            data-testid="broadcast-data"
            placeholder='{"notice": "maintenance at 22:00"}'
            aria-invalid={invalid === 'broadcast' ? 'true' : undefined}
            value={broadcastData}
            onInput={(e) => setBroadcastData(e.currentTarget.value)}
          />
        </label>
        <div class="buttons">
          <button
            type="submit"
            class="primary"
            data-testid="broadcast-submit"
            disabled={busy}
          >
            Broadcast
          </button>
        </div>
      </form>
      <p
        class={`result ${result ? (result.ok ? 'ok-text' : 'error') : 'muted'}`}
        data-testid="action-result"
        role="status"
        aria-live="polite"
      >
        {result ? result.text : 'Results of actions show here.'}
      </p>
    </div>
  );
}
