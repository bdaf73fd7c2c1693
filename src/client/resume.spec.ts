import { matchResume } from './resume.js';

describe('matchResume', () => {
  it('matches each room asked to its result: joined, refused, or missing', () => {
    const reply = {
      rooms: [
        { room: 'b', error: { code: 'FORBIDDEN', message: 'no' } },
        { room: 'a', offset: 3, epoch: 'e1', recovered: true },
      ],
    };
    expect(matchResume(['a', 'b', 'c'], reply)).toEqual([
      {
        room: 'a',
        joined: { room: 'a', offset: 3, epoch: 'e1', recovered: true },
      },
      { room: 'b', error: { code: 'FORBIDDEN', message: 'no' } },
      { room: 'c', missing: true },
    ]);
  });

  it('takes a bare list too, and leaves out entries that are not results', () => {
    expect(
      matchResume(
        ['a', 'b'],
        [null, 'a', { room: 'a' }, { room: 'b', error: 'x' }],
      ),
    ).toEqual([
      { room: 'a', joined: { room: 'a' } },
      // An `error` that is no error payload: a result without position.
      { room: 'b', joined: { room: 'b', error: 'x' } },
    ]);
    expect(matchResume(['a'], null)).toEqual([{ room: 'a', missing: true }]);
  });
});
