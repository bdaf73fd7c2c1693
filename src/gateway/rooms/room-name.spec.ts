import type { ArgumentMetadata } from '@nestjs/common';
import { ErrorCode } from '../../protocol/error-codes.js';
import { GatewayError } from '../../protocol/gateway-error.js';
import { GatewayValidationPipe } from '../dispatch/gateway-validation.pipe.js';
import {
  assertRoomName,
  MAX_ROOM_NAME_LENGTH,
  ROOM_NAME_PATTERN,
  ROOM_NAME_RULE,
} from './room-name.js';
import { PublishDto, RoomDto } from './room.dto.js';

const VALID: [string, string][] = [
  ['one character', 'a'],
  ['128 characters', 'x'.repeat(128)],
  ['digits only', '42'],
  ['every allowed punctuation', '_-.:@/'],
  ['a typical namespaced name', 'chat:team-7/general@eu.west_1'],
  ['upper and lower case', 'Lobby'],
];

const INVALID: [string, string][] = [
  ['an empty name', ''],
  ['129 characters', 'x'.repeat(129)],
  ['a space inside', 'the lobby'],
  ['a leading space', ' lobby'],
  ['a trailing space', 'lobby '],
  ['only blanks', '   '],
  ['a tab', 'a\tb'],
  ['a trailing newline', 'lobby\n'],
  ['a newline inside', 'a\nb'],
  ['an accented letter', 'café'],
  ['a non-Latin script', 'комната'],
  ['an emoji', 'party🎉'],
  ['a full-width letter', 'ｌobby'],
  ['a pipe (the bus header separator)', 'a|b'],
  ['a quote', 'a"b'],
  ['a glob star', 'room*'],
  ['a question mark', 'room?'],
  ['a backslash', 'a\\b'],
  ['a comma', 'a,b'],
  ['a NUL character', 'a\u0000b'],
];

describe('room names', () => {
  it('allows at most 128 characters, as the rule says', () => {
    expect(MAX_ROOM_NAME_LENGTH).toBe(128);
    expect(ROOM_NAME_RULE).toBe(
      'must be 1 to 128 characters of A-Z a-z 0-9 _ - . : @ /',
    );
  });

  describe('ROOM_NAME_PATTERN', () => {
    it.each(VALID)('accepts %s', (_, name) => {
      expect(ROOM_NAME_PATTERN.test(name)).toBe(true);
    });

    it.each(INVALID)('refuses %s', (_, name) => {
      expect(ROOM_NAME_PATTERN.test(name)).toBe(false);
    });

    it('accepts every ASCII letter and digit', () => {
      const alphabet =
        'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
      expect(ROOM_NAME_PATTERN.test(alphabet)).toBe(true);
    });

    it('refuses every printable ASCII character outside the rule', () => {
      const allowed = /[A-Za-z0-9_\-.:@/]/;
      for (let code = 0x20; code < 0x7f; code++) {
        const char = String.fromCharCode(code);
        expect(ROOM_NAME_PATTERN.test(`a${char}b`), JSON.stringify(char)).toBe(
          allowed.test(char),
        );
      }
    });
  });

  describe('assertRoomName', () => {
    it.each(VALID)('accepts %s', (_, name) => {
      expect(() => assertRoomName(name)).not.toThrow();
    });

    it.each([
      ...INVALID,
      ['a number', 42],
      ['null', null],
      ['undefined', undefined],
      ['an object', { room: 'lobby' }],
      ['an array', ['lobby']],
    ] as [string, unknown][])(
      'refuses %s with BAD_REQUEST, naming the field',
      (_, name) => {
        let error: unknown;
        try {
          assertRoomName(name);
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(GatewayError);
        expect((error as GatewayError).code).toBe(ErrorCode.BAD_REQUEST);
        expect((error as GatewayError).message).toBe('invalid room name');
        expect((error as GatewayError).details).toEqual([
          { field: 'room', message: ROOM_NAME_RULE },
        ]);
      },
    );
  });

  describe('RoomDto and PublishDto, through the gateway’s validation pipe', () => {
    const pipe = new GatewayValidationPipe();
    const as = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({
      type: 'body',
      metatype,
    });

    async function refusal(value: unknown, metatype = RoomDto) {
      try {
        await pipe.transform(value, as(metatype));
      } catch (err) {
        expect(err).toBeInstanceOf(GatewayError);
        expect((err as GatewayError).code).toBe(ErrorCode.BAD_REQUEST);
        return err as GatewayError;
      }
      throw new Error(`the pipe accepted ${JSON.stringify(value)}`);
    }

    it.each(VALID)('accepts {room} with %s', async (_, room) => {
      await expect(pipe.transform({ room }, as(RoomDto))).resolves.toEqual({
        room,
      });
    });

    it.each(INVALID)(
      'refuses {room} with %s, with the rule as details',
      async (_, room) => {
        const error = await refusal({ room });
        expect(error.details).toEqual([
          { field: 'room', message: ROOM_NAME_RULE },
        ]);
      },
    );

    it.each([
      ['a number', { room: 7 }],
      ['null', { room: null }],
      ['no room', {}],
      ['no payload at all', undefined],
    ])('refuses %s, saying the room must be a string', async (_, value) => {
      const error = await refusal(value);
      expect(error.details).toContainEqual({
        field: 'room',
        message: 'must be a string',
      });
      expect(error.details?.every((d) => d.field === 'room')).toBe(true);
    });

    it('refuses fields a join does not take, naming them', async () => {
      const error = await refusal({ room: 'lobby', admin: true });
      expect(error.details).toEqual([
        { field: 'admin', message: 'is not a known field' },
      ]);
    });

    it('keeps any JSON value as the data of a publish', async () => {
      for (const data of [{ a: [1, { b: null }] }, 'text', 0, false, null]) {
        await expect(
          pipe.transform({ room: 'lobby', data }, as(PublishDto)),
        ).resolves.toEqual({ room: 'lobby', data });
      }
    });

    it('hands over the data of a publish as it came: the same object, every key kept', async () => {
      const text =
        '{"nested":{"constructor":1,"prototype":2,"__proto__":{"x":3},"toString":4,' +
        '"valueOf":5,"hasOwnProperty":6,"isPrototypeOf":7,"__defineGetter__":8,"ok":9}}';
      const data = JSON.parse(text) as unknown;
      const result = (await pipe.transform(
        { room: 'lobby', data },
        as(PublishDto),
      )) as PublishDto;
      expect(result).toBeInstanceOf(PublishDto);
      expect(result.data).toBe(data);
      expect(JSON.stringify(result.data)).toBe(text);
    });

    it('accepts a publish without data', async () => {
      const result: unknown = await pipe.transform(
        { room: 'lobby' },
        as(PublishDto),
      );
      expect(result).toBeInstanceOf(PublishDto);
      expect((result as PublishDto).data).toBeUndefined();
    });

    it('checks the room of a publish by the same rule', async () => {
      const error = await refusal({ room: 'a b', data: 1 }, PublishDto);
      expect(error.details).toEqual([
        { field: 'room', message: ROOM_NAME_RULE },
      ]);
    });
  });
});
