import {
  BadRequestException,
  ForbiddenException,
  HttpException,
  HttpStatus,
  InternalServerErrorException,
  NotFoundException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { ErrorCode } from '../../protocol/error-codes.js';
import { mapError } from './error-mapping.js';
import { InvalidEnvelopeError } from '../../protocol/envelope.js';
import { GatewayError } from '../../protocol/gateway-error.js';

describe('mapError', () => {
  describe('GatewayError', () => {
    it('keeps its code and message, with no details key when it has none', () => {
      const mapped = mapError(GatewayError.unknownEvent('nope'));
      expect(mapped).toEqual({
        payload: {
          code: ErrorCode.UNKNOWN_EVENT,
          message: 'no handler for event "nope"',
        },
        unexpected: false,
      });
      expect(mapped.payload).not.toHaveProperty('details');
    });

    it('keeps its details', () => {
      const details = [{ field: 'room', message: 'must be a string' }];
      expect(
        mapError(GatewayError.badRequest('validation failed', details)),
      ).toEqual({
        payload: {
          code: ErrorCode.BAD_REQUEST,
          message: 'validation failed',
          details,
        },
        unexpected: false,
      });
    });

    it('leaves out an empty details list', () => {
      const mapped = mapError(GatewayError.badRequest('bad', []));
      expect(mapped.payload).not.toHaveProperty('details');
    });

    it.each([
      [GatewayError.unauthorized(), ErrorCode.UNAUTHORIZED],
      [GatewayError.forbidden(), ErrorCode.FORBIDDEN],
      [GatewayError.unavailable('bus down'), ErrorCode.UNAVAILABLE],
      [
        new GatewayError(ErrorCode.RATE_LIMITED, 'slow down'),
        ErrorCode.RATE_LIMITED,
      ],
      [new GatewayError(ErrorCode.INTERNAL, 'deliberate'), ErrorCode.INTERNAL],
    ])('keeps the code of %s', (error, code) => {
      const mapped = mapError(error);
      expect(mapped.payload.code).toBe(code);
      expect(mapped.payload.message).toBe(error.message);
      expect(mapped.unexpected).toBe(false);
    });

    it('maps a subclass (InvalidEnvelopeError) the same way', () => {
      const details = [
        { field: 'event', message: 'must be a non-empty string' },
      ];
      expect(
        mapError(new InvalidEnvelopeError('invalid envelope', details, 'r1')),
      ).toEqual({
        payload: {
          code: ErrorCode.BAD_REQUEST,
          message: 'invalid envelope',
          details,
        },
        unexpected: false,
      });
    });
  });

  describe('WsException', () => {
    it("maps Nest's guard refusal 'Forbidden resource' to FORBIDDEN", () => {
      expect(mapError(new WsException('Forbidden resource'))).toEqual({
        payload: { code: ErrorCode.FORBIDDEN, message: 'Forbidden resource' },
        unexpected: false,
      });
    });

    it('maps any other string to BAD_REQUEST with that message', () => {
      expect(mapError(new WsException('room is full'))).toEqual({
        payload: { code: ErrorCode.BAD_REQUEST, message: 'room is full' },
        unexpected: false,
      });
    });

    it('does not treat a near miss of the guard message as FORBIDDEN', () => {
      expect(mapError(new WsException('forbidden resource')).payload.code).toBe(
        ErrorCode.BAD_REQUEST,
      );
    });

    it('uses the code and message of an object with a protocol code', () => {
      expect(
        mapError(new WsException({ code: 'RATE_LIMITED', message: 'easy' })),
      ).toEqual({
        payload: { code: ErrorCode.RATE_LIMITED, message: 'easy' },
        unexpected: false,
      });
    });

    it('uses the code as the message when the object has no message', () => {
      expect(mapError(new WsException({ code: 'FORBIDDEN' })).payload).toEqual({
        code: ErrorCode.FORBIDDEN,
        message: 'FORBIDDEN',
      });
    });

    it('maps an object with an unknown code to BAD_REQUEST, keeping its message', () => {
      expect(
        mapError(
          new WsException({ code: 'TEAPOT', message: 'short and stout' }),
        ).payload,
      ).toEqual({ code: ErrorCode.BAD_REQUEST, message: 'short and stout' });
    });

    it('maps an object with a non-string code to BAD_REQUEST', () => {
      expect(mapError(new WsException({ code: 403 })).payload.code).toBe(
        ErrorCode.BAD_REQUEST,
      );
    });
  });

  describe('HttpException', () => {
    it('maps a 400 with a list of messages to BAD_REQUEST with details', () => {
      const error = new BadRequestException([
        'room must be a string',
        'data should not be empty',
      ]);
      expect(mapError(error)).toEqual({
        payload: {
          code: ErrorCode.BAD_REQUEST,
          message: error.message,
          details: [
            { field: '', message: 'room must be a string' },
            { field: '', message: 'data should not be empty' },
          ],
        },
        unexpected: false,
      });
    });

    it('maps a 400 with a single message to BAD_REQUEST without details', () => {
      const mapped = mapError(new BadRequestException('no room'));
      expect(mapped.payload).toEqual({
        code: ErrorCode.BAD_REQUEST,
        message: 'no room',
      });
    });

    it.each([
      [new UnauthorizedException('who are you'), ErrorCode.UNAUTHORIZED],
      [new ForbiddenException('not yours'), ErrorCode.FORBIDDEN],
      [
        new HttpException('slow down', HttpStatus.TOO_MANY_REQUESTS),
        ErrorCode.RATE_LIMITED,
      ],
      [new ServiceUnavailableException('try later'), ErrorCode.UNAVAILABLE],
      [new NotFoundException('no such room'), ErrorCode.BAD_REQUEST],
      [new HttpException('gone', HttpStatus.GONE), ErrorCode.BAD_REQUEST],
    ])('maps %s to %s, keeping the message', (error, code) => {
      expect(mapError(error)).toEqual({
        payload: { code, message: error.message },
        unexpected: false,
      });
    });

    it.each([
      new InternalServerErrorException('db password is hunter2'),
      new HttpException('bad gateway: 10.0.0.7', HttpStatus.BAD_GATEWAY),
      new HttpException('weird', 302),
    ])(
      'maps a non-4xx status (%s) to INTERNAL without its message',
      (error) => {
        const mapped = mapError(error);
        expect(mapped).toEqual({
          payload: { code: ErrorCode.INTERNAL, message: 'internal error' },
          unexpected: true,
        });
        expect(JSON.stringify(mapped)).not.toContain(error.message);
      },
    );
  });

  describe('anything else', () => {
    it.each([
      ['an Error', new Error('ECONNREFUSED 10.0.0.5:6379 password=hunter2')],
      [
        'a TypeError',
        new TypeError("Cannot read properties of undefined (reading 'x')"),
      ],
      ['a thrown string', 'secret string'],
      ['undefined', undefined],
      ['null', null],
      ['an object', { code: 'BAD_REQUEST', message: 'not a real exception' }],
    ])(
      'maps %s to INTERNAL, unexpected, with a generic message',
      (_, error) => {
        const mapped = mapError(error);
        expect(mapped).toEqual({
          payload: { code: ErrorCode.INTERNAL, message: 'internal error' },
          unexpected: true,
        });
      },
    );

    it('never leaks the error text to the client', () => {
      const mapped = mapError(new Error('ECONNREFUSED password=hunter2'));
      expect(JSON.stringify(mapped.payload)).not.toMatch(
        /hunter2|ECONNREFUSED/,
      );
    });
  });
});
