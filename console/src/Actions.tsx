import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { messageOf, post } from './api';
import { parseJson } from './json';
import { JsonField } from './JsonField';
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

type Form = 'publish' | 'broadcast';

export function Actions({ result, onResult }: Props) {
  const [room, setRoom] = useState('');
  const [publishData, setPublishData] = useState('');
  const [broadcastData, setBroadcastData] = useState('');
  const [invalid, setInvalid] = useState<Form | null>(null);
  const [busy, setBusy] = useState(false);

  /**
   * Sends the JSON typed in `form` once it parses (else marks the field and says why after
   * `name`); the result line says what `send` makes of the answer, or the refusal after `failed`.
   */
  const submit = async (
    form: Form,
    json: string,
    {
      name,
      failed,
      send,
    }: {
      name: string;
      failed: string;
      send: (data: unknown) => Promise<string>;
    },
  ) => {
    const parsed = parseJson(json);
    if (!parsed.ok) {
      setInvalid(form);
      return onResult({ ok: false, text: `${name}: ${parsed.error}` });
    }
    setInvalid(null);
    setBusy(true);
    try {
      onResult({ ok: true, text: await send(parsed.value) });
    } catch (err) {
      onResult({ ok: false, text: `${failed}: ${messageOf(err)}` });
    } finally {
      setBusy(false);
    }
  };

  const publish = async (e: Event) => {
    e.preventDefault();
    const target = room.trim();
    if (!target) return onResult({ ok: false, text: 'Publish: name a room' });
    await submit('publish', publishData, {
      name: 'Publish',
      failed: `Publish to ${target}`,
      send: async (data) => {
        const r = await post<PublishAnswer>('/publish', { room: target, data });
        const offset = r.offset === undefined ? '' : `, offset ${r.offset}`;
        return `Published to ${r.room}: ${plural(r.recipients, 'recipient')} on ${plural(r.instances, 'instance')}${offset}`;
      },
    });
  };

  const broadcast = async (e: Event) => {
    e.preventDefault();
    await submit('broadcast', broadcastData, {
      name: 'Broadcast',
      failed: 'Broadcast',
      send: async (data) => {
        const r = await post<BroadcastAnswer>('/broadcast', { data });
        return `Broadcast: ${plural(r.recipients, 'recipient')} on ${plural(r.instances, 'instance')}`;
      },
    });
  };

  return (
    <div class="actions-panel" data-testid="admin-actions">
      <ActionForm
        title="Publish to a room"
        label="Publish"
        testId="publish-submit"
        busy={busy}
        onSubmit={publish}
      >
        <label>
          Room
          <input
            type="text"
            data-testid="publish-room"
            value={room}
            onInput={(e) => setRoom(e.currentTarget.value)}
          />
        </label>
        <JsonField
          rows={3}
          testId="publish-data"
          placeholder='{"text": "hello"}'
          invalid={invalid === 'publish'}
          value={publishData}
          onInput={setPublishData}
        />
      </ActionForm>
      <ActionForm
        title="Broadcast to every client"
        label="Broadcast"
        testId="broadcast-submit"
        busy={busy}
        onSubmit={broadcast}
      >
        <JsonField
          rows={3}
          testId="broadcast-data"
          placeholder='{"notice": "maintenance at 22:00"}'
          invalid={invalid === 'broadcast'}
          value={broadcastData}
          onInput={setBroadcastData}
        />
      </ActionForm>
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

/** One action's form: its title, its fields, and its button (`testId`), off while one runs. */
function ActionForm({
  title,
  label,
  testId,
  busy,
  onSubmit,
  children,
}: {
  title: string;
  label: string;
  testId: string;
  busy: boolean;
  onSubmit: (e: Event) => void;
  children: ComponentChildren;
}) {
  return (
    <form class="form" onSubmit={onSubmit}>
      <h3>{title}</h3>
      {children}
      <div class="buttons">
        <button
          type="submit"
          class="primary"
          data-testid={testId}
          disabled={busy}
        >
          {label}
        </button>
      </div>
    </form>
  );
}
