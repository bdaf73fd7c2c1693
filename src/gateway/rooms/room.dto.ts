import { Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { ROOM_NAME_PATTERN, ROOM_NAME_RULE } from './room-name.js';

/** Rooms one `resume` may name; the connection's own room limit applies too. */
export const MAX_RESUME_ROOMS = 10_000;

/** Largest offset a client may name: any offset a stream can reach is below it. */
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** The data of `leave`: `{"room": string}`. */
export class RoomDto {
  @IsString({ message: 'must be a string' })
  @Matches(ROOM_NAME_PATTERN, { message: ROOM_NAME_RULE })
  room!: string;
}

/** Where a client was in a room's stream: `{"offset": number, "epoch": string}`. */
export class PositionDto {
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must not be negative' })
  @Max(MAX_OFFSET, { message: 'is too large' })
  offset!: number;

  @IsString({ message: 'must be a string' })
  @Matches(/^[\w-]{1,64}$/, {
    message: 'must be an epoch as the server gave it',
  })
  epoch!: string;
}

/** A room and where the client was in it: `{"room", "since"?: {"offset", "epoch"}}`. */
export class RoomSinceDto extends RoomDto {
  @IsOptional()
  @IsObject({ message: 'must be an object {"offset","epoch"}' })
  @ValidateNested()
  @Type(() => PositionDto)
  since?: PositionDto;
}

/** The data of `join`: `{"room", "since"?: {"offset", "epoch"}, "presence"?: boolean}`. */
export class JoinDto extends RoomSinceDto {
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  presence?: boolean;
}

/** The data of `resume`: `{"rooms": [{"room", "since"?}, ...]}`. */
export class ResumeDto {
  @IsArray({ message: 'must be a list of {"room","since"?}' })
  @ArrayMinSize(1, { message: 'must name at least one room' })
  @ArrayMaxSize(MAX_RESUME_ROOMS, {
    message: `must name at most ${MAX_RESUME_ROOMS} rooms`,
  })
  @ValidateNested({ each: true })
  @Type(() => JoinDto)
  rooms!: JoinDto[];
}

/** The data of `history`: `{"room", "since"?: {"offset","epoch"}, "limit"?: number}`. */
export class HistoryDto extends RoomSinceDto {
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  limit?: number;
}

/** The data of `presence`: `{"room", "countOnly"?: boolean}`. */
export class PresenceDto extends RoomDto {
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  countOnly?: boolean;
}

/** The data of `publish`: `{"room": string, "data": any}`. */
export class PublishDto extends RoomDto {
  /**
   * Any JSON value, handed over as parsed: no rule applies inside it, and the validation pipe
   * does not copy it (a copy would cost time and lose keys such as `constructor`). Absent is
   * sent as `null`.
   */
  @Allow()
  @IsOptional()
  data?: unknown;
}
