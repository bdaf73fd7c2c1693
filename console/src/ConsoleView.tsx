import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { session as fetchSession, ApiError } from './api';
import { Actions, type ActionResult } from './Actions';
import { Chart, type Line } from './Chart';
import { Connections } from './Connections';
import { Errors } from './Errors';
import * as fmt from './format';
import { useColorScheme } from './hooks';
import { Instances } from './Instances';
import { Rooms } from './Rooms';
import { ConsoleSocket, consoleSocketUrl, type SocketStatus } from './socket';
import { Tail } from './Tail';
import { Timeline } from './timeline';
import type {
  HelloFrame,
  InstancesFrame,
  InstanceView,
  Session,
} from './types';

interface Props {
  session: Session;
  onLogout: () => void;
}

/** More lines than this and the per-instance lines are noise: the chart keeps the total only. */
const MAX_INSTANCE_LINES = 8;

export function ConsoleView({ session, onLogout }: Props) {
  const admin = session.role === 'admin';
  const scheme = useColorScheme();
  const [status, setStatus] = useState<SocketStatus>({
    state: 'connecting',
    since: Date.now(),
  });
  const [socket, setSocket] = useState<ConsoleSocket | null>(null);
  const [self, setSelf] = useState('');
  const [instances, setInstances] = useState<InstanceView[]>([]);
  const timeline = useRef(new Timeline());
  const [version, setVersion] = useState(0);
  const [tailRoom, setTailRoom] = useState<{
    room: string;
    seq: number;
  } | null>(null);
  const [result, setResult] = useState<ActionResult | null>(null);

  useEffect(() => {
    // Before each reconnect: a 401 here sends the page to the login (the api's handler).
    const stillLoggedIn = () =>
      fetchSession().then(
        () => true,
        (err: unknown) => !(err instanceof ApiError && err.status === 401),
      );
    const s = new ConsoleSocket(consoleSocketUrl(), setStatus, stillLoggedIn);
    const offHello = s.on('hello', (data) => {
      const hello = data as HelloFrame;
      setSelf(hello.self);
      timeline.current = Timeline.continued(
        timeline.current,
        Timeline.fromSeries(hello.series, hello.intervalMs),
        hello.intervalMs,
      );
      setVersion((v) => v + 1);
      setInstances(hello.instances);
    });
    const offInstances = s.on('instances', (data) => {
      const frame = data as InstancesFrame;
      setInstances(frame.instances);
      timeline.current.append(frame.at, frame.instances);
      setVersion((v) => v + 1);
    });
    s.start();
    setSocket(s);
    return () => {
      offHello();
      offInstances();
      s.stop();
    };
  }, []);

  const line = timeline.current;
  const perInstance =
    line.perInstance.size > 1 && line.perInstance.size <= MAX_INSTANCE_LINES;
  const ids = perInstance ? [...line.perInstance.keys()] : [];

  const connectionLines = useMemo<Line[]>(
    () => [
      { label: 'total', color: '--chart-total', width: 2, fill: true },
      ...ids.map((id, k) => ({
        label: id,
        color: `--chart-${(k % 6) + 1}`,
        width: 1,
      })),
    ],
    [ids.join('\n')],
  );
  const connectionData = useMemo<uPlot.AlignedData>(
    () => [
      line.t,
      line.connections,
      ...ids.map((id) => line.perInstance.get(id)!),
    ],
    [version],
  );
  const messageLines = useMemo<Line[]>(
    () => [
      { label: 'in /s', color: '--chart-1', width: 1.5, fill: true },
      { label: 'out /s', color: '--chart-2', width: 1.5 },
    ],
    [],
  );
  const messageData = useMemo<uPlot.AlignedData>(
    () => [line.t, line.inRate, line.outRate],
    [version],
  );

  return (
    <div class="app">
      <Header session={session} status={status} onLogout={onLogout} />
      <main class="content">
        <section id="instances" class="card">
          <h2>Instances</h2>
          <Instances instances={instances} self={self} />
        </section>
        <div class="charts">
          <Chart
            testId="chart-connections"
            title="Connections"
            lines={connectionLines}
            data={connectionData}
            last={line.lastConnections()}
            format={fmt.count}
            scheme={scheme}
          />
          <Chart
            testId="chart-messages"
            title="Messages per second"
            lines={messageLines}
            data={messageData}
            last={line.lastMessages()}
            format={fmt.rate}
            scheme={scheme}
          />
        </div>
        <div class="pair">
          <section id="rooms" class="card">
            <h2>Rooms</h2>
            <Rooms
              onTail={(room) =>
                setTailRoom((t) => ({ room, seq: (t?.seq ?? 0) + 1 }))
              }
            />
          </section>
          <section id="tail" class="card">
            <h2>Tail</h2>
            <Tail socket={socket} admin={admin} request={tailRoom} />
          </section>
        </div>
        <section id="connections" class="card">
          <h2>Connections</h2>
          <Connections admin={admin} onResult={setResult} />
        </section>
        <div class="pair">
          {admin && (
            <section id="actions" class="card">
              <h2>Actions</h2>
              <Actions result={result} onResult={setResult} />
            </section>
          )}
          <section id="errors" class="card">
            <h2>Errors</h2>
            <Errors />
          </section>
        </div>
      </main>
    </div>
  );
}

function Header({
  session,
  status,
  onLogout,
}: {
  session: Session;
  status: SocketStatus;
  onLogout: () => void;
}) {
  const [, redraw] = useState(0);
  // The countdown to the next attempt moves by itself.
  useEffect(() => {
    if (status.state !== 'closed') return;
    const timer = window.setInterval(() => redraw((n) => n + 1), 500);
    return () => clearInterval(timer);
  }, [status]);
  let text = 'live';
  if (status.state === 'connecting') text = 'connecting…';
  if (status.state === 'closed') {
    const left = Math.max(
      0,
      (status.retryInMs ?? 0) - (Date.now() - status.since),
    );
    text =
      left > 0
        ? `reconnecting in ${Math.ceil(left / 1000)} s`
        : 'reconnecting…';
  }
  return (
    <header class="top">
      <strong class="brand">Gateway console</strong>
      <nav aria-label="Sections">
        <a href="#instances">Instances</a>
        <a href="#rooms">Rooms</a>
        <a href="#tail">Tail</a>
        <a href="#connections">Connections</a>
        {session.role === 'admin' && <a href="#actions">Actions</a>}
        <a href="#errors">Errors</a>
      </nav>
      <span class="spacer" />
      <span
        class="ws"
        data-testid="ws-state"
        data-state={status.state}
        title="The console's live connection"
      >
        <span class="dot" aria-hidden="true" />
        {text}
      </span>
      <span class="user" data-testid="user">
        {session.user}
      </span>
      <span class={`badge role-${session.role}`} data-testid="role">
        {session.role}
      </span>
      <button type="button" data-testid="logout" onClick={onLogout}>
        Log out
      </button>
    </header>
  );
}
