import { Allow, IsString, Matches } from 'class-validator';
import { ROOM_NAME_PATTERN, ROOM_NAME_RULE } from './room-name.js';

/** The data of `join` and `leave`: `{"room": string}`. */
export class RoomDto {
  @IsString({ message: 'must be a string' })
  @Matches(ROOM_NAME_PATTERN, { message: ROOM_NAME_RULE })
  room!: string;
}

/** The data of `publish`: `{"room": string, "data": any}`. */
export class PublishDto extends RoomDto {
  /**
   * Any JSON value, handed over as parsed: no rule applies inside it, and the validation pipe
   * does not copy it (a copy would cost time and lose keys such as `constructor`). Absent is
   * sent as `null`.
   */
  @Allow()
  data?: unknown;
}
