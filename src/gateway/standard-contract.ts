import { Type } from 'class-transformer';
import { JSONSchema } from 'class-validator-jsonschema';
import {
  Allow,
  IsArray,
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Min,
  ValidateNested,
} from 'class-validator';
import type * as Frames from '../protocol/frames.js';
import {
  SCHEMAS_POINTER,
  schemaRef,
  type JsonSchema,
} from './contract/json-schema.js';

/** The error frame's payload, which the document defines itself. */
const ERROR_PAYLOAD_REF: JsonSchema = {
  $ref: `${SCHEMAS_POINTER}ErrorPayload`,
};

// The replies and pushes of the standard events, described with class-validator decorators so
// that the AsyncAPI document derives their schemas as it does the request DTOs'. Nothing
// validates with them: each `implements` its protocol type, so the two cannot drift apart.

/** The reply to `broadcast`. */
export class BroadcastReceipt implements Frames.BroadcastReceipt {
  /** Clients of this instance that received it. */
  @IsInt() @Min(0) recipients!: number;
  /** Instances that received it, this one included. */
  @IsInt() @Min(1) instances!: number;
}

/** The reply to `publish`: with `offset` and `epoch` when the room keeps history. */
export class PublishReceipt
  extends BroadcastReceipt
  implements Frames.PublishReceipt
{
  @IsString() room!: string;
  @IsOptional() @IsInt() @Min(1) offset?: number;
  @IsOptional() @IsString() epoch?: string;
}

/** A room's position: the last offset, in the stream's life (`epoch`). */
export class StreamPosition implements Frames.StreamPosition {
  @IsInt() @Min(0) offset!: number;
  @IsString() epoch!: string;
}

/** A member of a room's presence: a principal, its public info, its connections. */
export class PresenceMember implements Frames.PresenceMember {
  @IsString() id!: string;
  @IsObject() info!: Record<string, unknown>;
  @IsInt() @Min(1) connections!: number;
}

/** A room's members (unless counted only, or too many), and their count. */
export class PresenceView implements Frames.PresenceView {
  @IsInt() @Min(0) count!: number;
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PresenceMember)
  members?: PresenceMember[];
}

/** The reply to `presence`: the room, its members and their count. */
export class PresenceReply
  extends PresenceView
  implements Frames.PresenceReply
{
  @IsString() room!: string;
}

/** A join's presence that could not be read: why, in place of the members. */
export class PresenceFailure {
  @IsObject()
  @JSONSchema(ERROR_PAYLOAD_REF)
  error!: Frames.ErrorPayload;
}

/** The reply to `join`: the room's position when it keeps history, and its presence if asked. */
export class JoinReply implements Frames.JoinReply {
  @IsString() room!: string;
  @IsOptional() @IsInt() @Min(0) offset?: number;
  @IsOptional() @IsString() epoch?: string;
  /** With `since`: whether every message after it was sent before this reply. */
  @IsOptional() @IsBoolean() recovered?: boolean;
  /** With `presence: true`: the members, or the error that kept them from the reply. */
  @IsOptional()
  @IsObject()
  @JSONSchema({
    oneOf: [schemaRef(PresenceView), schemaRef(PresenceFailure)],
  })
  presence?: PresenceView | PresenceFailure;
}

/** A room `resume` could not join again, and why. */
export class ResumeFailure implements Frames.ResumeFailure {
  @IsString() room!: string;
  @IsObject()
  @JSONSchema(ERROR_PAYLOAD_REF)
  error!: Frames.ErrorPayload;
}

/**
 * The reply to `resume`: a result per room, in the order asked. `anyOf`, not `oneOf`: a
 * failure `{room, error}` has the shape of a join's reply too (whose fields but `room` are
 * optional), so it matches both.
 */
export class ResumeReply implements Frames.ResumeReply {
  @IsArray()
  @JSONSchema({
    items: { anyOf: [schemaRef(JoinReply), schemaRef(ResumeFailure)] },
  })
  rooms!: Array<JoinReply | ResumeFailure>;
}

/** The reply to `leave`: the room left (or never joined). */
export class LeaveReply {
  @IsString() room!: string;
}

/** A kept room message, as `history` returns it and as a room push carries it. */
export class RoomMessage implements Frames.RoomMessage {
  @IsString() room!: string;
  @IsString() from!: string;
  @Allow() data!: unknown;
  @IsInt() @Min(1) offset!: number;
}

/** The reply to `history`: the room's position and its kept messages after `since`. */
export class HistoryReply
  extends StreamPosition
  implements Frames.HistoryReply
{
  @IsString() room!: string;
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => RoomMessage)
  messages!: RoomMessage[];
}

/** The `broadcast` push: who sent it and what. */
export class BroadcastPush implements Frames.BroadcastPush {
  @IsString() from!: string;
  @Allow() data!: unknown;
}

/** The `message` push: a room's message, with its `offset` when the room keeps history. */
export class RoomMessagePush implements Frames.RoomMessagePush {
  @IsString() room!: string;
  @IsString() from!: string;
  @Allow() data!: unknown;
  @IsOptional() @IsInt() @Min(1) offset?: number;
}

/** A member in a presence diff (no connection count). */
export class PresenceDiffMember {
  @IsString() id!: string;
  @IsObject() info!: Record<string, unknown>;
}

/** The `presence` push of a listed room: who joined and who left since the last one. */
export class PresenceDiff {
  @IsString() room!: string;
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PresenceDiffMember)
  joined!: PresenceDiffMember[];
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PresenceDiffMember)
  left!: PresenceDiffMember[];
}

/** The `presence` push of a room too large to list: its count. */
export class PresenceCount {
  @IsString() room!: string;
  @IsInt() @Min(0) count!: number;
}

/** The `presence` push: a diff, or a count for a room past `PRESENCE_MAX_MEMBERS`. */
export const PRESENCE_PUSH_SCHEMA: JsonSchema = {
  oneOf: [schemaRef(PresenceDiff), schemaRef(PresenceCount)],
};
