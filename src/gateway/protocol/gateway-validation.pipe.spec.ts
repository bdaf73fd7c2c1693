import type { ArgumentMetadata, ValidationError } from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { ErrorCode } from './error-codes.js';
import { GatewayError } from './gateway-error.js';
import {
  GatewayValidationPipe,
  validationDetails,
} from './gateway-validation.pipe.js';

/** A class-validator error node, as the library builds them. */
function node(
  property: string,
  constraints?: Record<string, string>,
  children: ValidationError[] = [],
): ValidationError {
  return { property, constraints, children };
}

describe('validationDetails', () => {
  it('returns nothing for no errors', () => {
    expect(validationDetails([])).toEqual([]);
  });

  it('lists one entry per failed rule of a top-level field', () => {
    expect(
      validationDetails([
        node('room', {
          isString: 'room must be a string',
          minLength: 'room must be longer than or equal to 1 characters',
        }),
        node('count', { isInt: 'count must be an integer number' }),
      ]),
    ).toEqual([
      { field: 'room', message: 'room must be a string' },
      {
        field: 'room',
        message: 'room must be longer than or equal to 1 characters',
      },
      { field: 'count', message: 'count must be an integer number' },
    ]);
  });

  it('flattens nested errors with dotted paths, depth first', () => {
    expect(
      validationDetails([
        node('user', undefined, [
          node('name', { isString: 'name must be a string' }),
          node('address', undefined, [
            node('zip', { matches: 'zip must match' }),
          ]),
        ]),
        node('items', undefined, [
          node('0', undefined, [
            node('qty', { min: 'qty must not be less than 1' }),
          ]),
        ]),
        node('tag', { isString: 'tag must be a string' }),
      ]),
    ).toEqual([
      { field: 'user.name', message: 'name must be a string' },
      { field: 'user.address.zip', message: 'zip must match' },
      { field: 'items.0.qty', message: 'qty must not be less than 1' },
      { field: 'tag', message: 'tag must be a string' },
    ]);
  });

  it('lists a parent rule and its children rules both', () => {
    expect(
      validationDetails([
        node(
          'items',
          { arrayMaxSize: 'items must contain no more than 1 elements' },
          [node('1', { isString: 'each value in items must be a string' })],
        ),
      ]),
    ).toEqual([
      { field: 'items', message: 'items must contain no more than 1 elements' },
      { field: 'items.1', message: 'each value in items must be a string' },
    ]);
  });

  it('skips a node with neither constraints nor children', () => {
    expect(validationDetails([node('quiet')])).toEqual([]);
  });
});

class Position {
  @IsInt()
  @Min(0)
  x: number;

  @IsInt()
  @Min(0)
  y: number;
}

class MoveDto {
  @IsString()
  @MinLength(1)
  @MaxLength(8)
  room: string;

  @IsObject()
  @ValidateNested()
  @Type(() => Position)
  to: Position;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(2)
  @IsString({ each: true })
  tags?: string[];
}

const body: ArgumentMetadata = { type: 'body', metatype: MoveDto };

async function refusal(value: unknown): Promise<GatewayError> {
  try {
    await new GatewayValidationPipe().transform(value, body);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error(`the pipe accepted ${JSON.stringify(value)}`);
}

describe('GatewayValidationPipe', () => {
  const pipe = new GatewayValidationPipe();

  it('turns a valid payload into an instance of the DTO', async () => {
    const result: unknown = await pipe.transform(
      { room: 'lobby', to: { x: 1, y: 2 }, tags: ['a'] },
      body,
    );
    expect(result).toBeInstanceOf(MoveDto);
    expect((result as MoveDto).to).toBeInstanceOf(Position);
    expect(result).toEqual({ room: 'lobby', to: { x: 1, y: 2 }, tags: ['a'] });
  });

  it('strips fields the DTO does not declare, nested ones included', async () => {
    const result: unknown = await pipe.transform(
      { room: 'lobby', to: { x: 0, y: 0, z: 9 }, admin: true },
      body,
    );
    expect(result).toEqual({ room: 'lobby', to: { x: 0, y: 0 } });
    expect(result).not.toHaveProperty('admin');
  });

  it('refuses an invalid payload with BAD_REQUEST and every failed field', async () => {
    const err = await refusal({
      room: 'much-too-long',
      to: { x: -1, y: 'north' },
      tags: ['a', 2, 'c'],
    });
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    expect(err.message).toBe('validation failed');
    const fields = err.details?.map((d) => d.field);
    expect(new Set(fields)).toEqual(new Set(['room', 'to.x', 'to.y', 'tags']));
    expect(err.details).toContainEqual({
      field: 'room',
      message: 'room must be shorter than or equal to 8 characters',
    });
    expect(err.details).toContainEqual({
      field: 'to.x',
      message: 'x must not be less than 0',
    });
    expect(err.details).toContainEqual({
      field: 'tags',
      message: 'each value in tags must be a string',
    });
    expect(err.details?.filter((d) => d.field === 'to.y')).toHaveLength(2);
  });

  it('refuses a missing nested object', async () => {
    const err = await refusal({ room: 'lobby' });
    expect(err.details).toEqual([
      { field: 'to', message: 'to must be an object' },
    ]);
  });

  it.each([
    ['no payload', undefined],
    ['null', null],
    ['an empty object', {}],
  ])('refuses %s, listing the required fields', async (_, value) => {
    const err = await refusal(value);
    expect(err.code).toBe(ErrorCode.BAD_REQUEST);
    const fields = new Set(err.details?.map((d) => d.field));
    expect(fields.has('room')).toBe(true);
    expect(fields.has('to')).toBe(true);
    expect(fields.has('tags')).toBe(false);
  });

  it('leaves payloads without a DTO class alone', async () => {
    const value = { anything: [1, 2] };
    await expect(
      pipe.transform(value, { type: 'body', metatype: Object }),
    ).resolves.toBe(value);
    await expect(pipe.transform('text', { type: 'body' })).resolves.toBe(
      'text',
    );
  });
});
