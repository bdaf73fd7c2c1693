import {
  canTransition,
  ConnectionState,
  type ClientState,
} from './connection-state.js';

const STATES: ClientState[] = [
  'idle',
  'connecting',
  'open',
  'reconnecting',
  'closed',
];

describe('ConnectionState', () => {
  it('allows exactly the moves the client makes', () => {
    const allowed = STATES.flatMap((from) =>
      STATES.filter((to) => canTransition(from, to)).map(
        (to) => `${from}>${to}`,
      ),
    );
    expect(allowed).toEqual([
      'idle>connecting',
      'idle>closed',
      'connecting>open',
      'connecting>closed',
      'open>reconnecting',
      'open>closed',
      'reconnecting>open',
      'reconnecting>closed',
      'closed>connecting',
      'closed>reconnecting',
    ]);
  });

  it('starts idle and reports each change with the state it left', () => {
    const state = new ConnectionState();
    expect(state.state).toBe('idle');
    expect(state.moveTo('connecting')).toEqual({
      state: 'connecting',
      previous: 'idle',
    });
    expect(state.open()).toEqual({ state: 'open', previous: 'connecting' });
    expect(state.state).toBe('open');
  });

  it('reports no change when asked for the state it is in', () => {
    const state = new ConnectionState();
    state.moveTo('connecting');
    expect(state.moveTo('connecting')).toBeUndefined();
    expect(state.state).toBe('connecting');
  });

  it('throws on a move the client never makes, and stays where it was', () => {
    const state = new ConnectionState();
    expect(() => state.moveTo('open')).toThrow(
      'no transition from idle to open',
    );
    expect(() => state.moveTo('reconnecting')).toThrow();
    expect(state.state).toBe('idle');
  });

  it('makes attempts after a first open reconnections, until the app forgets it', () => {
    const state = new ConnectionState();
    expect(state.hasOpened).toBe(false);
    expect(state.attemptState).toBe('connecting');
    state.moveTo(state.attemptState);
    state.open();
    expect(state.hasOpened).toBe(true);
    expect(state.attemptState).toBe('reconnecting');
    // Closed by the server (4401, given up): connect() again is a reconnection.
    state.moveTo('closed');
    expect(state.moveTo(state.attemptState)).toEqual({
      state: 'reconnecting',
      previous: 'closed',
    });
    // Closed by the app: the next connect() starts afresh.
    state.moveTo('closed');
    state.forgetOpened();
    expect(state.attemptState).toBe('connecting');
    expect(state.moveTo(state.attemptState)?.state).toBe('connecting');
  });
});
