import * as fmt from './format';
import { ListTable } from './List';
import type { InstanceView } from './types';

function BufferBar({ bytes, ratio }: { bytes: number; ratio: number }) {
  const r = Math.min(1, Math.max(0, Number.isFinite(ratio) ? ratio : 0));
  const level = r >= 0.8 ? 'bad' : r >= 0.5 ? 'warn' : 'ok';
  return (
    <span
      class="buffer"
      title={`fullest connection at ${fmt.percent(r)} of MAX_BUFFERED_BYTES`}
    >
      <span class="num">{fmt.bytes(bytes)}</span>
      <span
        class={`bar ${level}`}
        role="meter"
        aria-valuemin={0}
        aria-valuemax={1}
        aria-valuenow={r}
      >
        <span style={{ width: `${Math.max(r > 0 ? 2 : 0, r * 100)}%` }} />
      </span>
    </span>
  );
}

const busLevel = { ready: 'ok', down: 'bad', memory: 'neutral' } as const;

export function Instances({
  instances,
  self,
}: {
  instances: InstanceView[];
  self: string;
}) {
  // Live ones first, each group in a stable order, so rows do not jump between frames.
  const rows = [...instances].sort(
    (a, b) => Number(a.gone) - Number(b.gone) || a.id.localeCompare(b.id),
  );
  return (
    <ListTable
      testId="instances"
      short
      columns={10}
      empty={rows.length === 0 && 'Waiting for the instances…'}
      head={
        <>
          <th>id</th>
          <th>version</th>
          <th class="num">uptime</th>
          <th class="num">connections</th>
          <th class="num">in /s</th>
          <th class="num">out /s</th>
          <th class="num">errors /s</th>
          <th>buffered</th>
          <th>bus</th>
          <th>draining</th>
        </>
      }
    >
      {rows.map((x) => (
        <tr
          key={x.id}
          data-testid="instance-row"
          data-instance={x.id}
          data-gone={String(x.gone)}
          class={x.gone ? 'gone' : undefined}
        >
          <td class="mono">
            {x.id}
            {x.id === self && (
              <span
                class="badge accent after"
                data-testid="serving"
                title="This instance serves the console"
              >
                serving
              </span>
            )}
            {x.gone && (
              <span
                class="badge after"
                title={`Not heard from since ${fmt.clock(x.lastSeen)}`}
              >
                gone
              </span>
            )}
          </td>
          <td>{x.version}</td>
          <td class="num">{fmt.duration(x.uptimeSec)}</td>
          <td class="num">{fmt.count(x.connections)}</td>
          <td class="num">{fmt.rate(x.messagesInPerSec)}</td>
          <td class="num">{fmt.rate(x.messagesOutPerSec)}</td>
          <td class={`num${x.errorsPerSec > 0 && !x.gone ? ' bad-text' : ''}`}>
            {fmt.rate(x.errorsPerSec)}
          </td>
          <td>
            <BufferBar bytes={x.bufferedBytes} ratio={x.maxBufferedRatio} />
          </td>
          <td>
            <span class={`badge ${busLevel[x.bus] ?? 'neutral'}`}>{x.bus}</span>
          </td>
          <td>
            {x.draining ? (
              <span class="badge warn">draining</span>
            ) : (
              <span class="muted">no</span>
            )}
          </td>
        </tr>
      ))}
    </ListTable>
  );
}
