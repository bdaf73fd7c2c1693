import { Type } from 'class-transformer';
import { JSONSchema } from 'class-validator-jsonschema';
import {
  Allow,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Min,
  ValidateNested,
} from 'class-validator';
import { ErrorCode } from '../protocol/error-codes.js';
import type {
  BroadcastPush,
  BroadcastReceipt,
  HistoryReply,
  JoinReply,
  PresenceMember,
  PresenceReply,
  PresenceView,
  PublishReceipt,
  ResumeFailure,
  ResumeReply,
  RoomMessage,
  RoomMessagePush,
  StreamPosition,
} from '../protocol/frames.js';
import { schemaRef, type JsonSchema } from './contract/json-schema.js';

// The replies and pushes of the standard events, described with class-validator decorators so
// that the AsyncAPI document derives their schemas as it does the request DTOs'. Nothing
// validates with them: each `implements` its protocol type, so the two cannot drift apart.

/** The reply to `broadcast`. */
export class BroadcastReceiptDoc implements BroadcastReceipt {
  /** Clients of this instance that received it. */
  @IsInt() @Min(0) recipients!: number;
  /** Instances that received it, this one included. */
  @IsInt() @Min(1) instances!: number;
}

/** The reply to `publish`: with `offset` and `epoch` when the room keeps history. */
export class PublishReceiptDoc
  extends BroadcastReceiptDoc
  implements PublishReceipt
{
  @IsString() room!: string;
  @IsOptional() @IsInt() @Min(1) offset?: number;
  @IsOptional() @IsString() epoch?: string;
}

/** A room's position: the last offset, in the stream's life (`epoch`). */
export class StreamPositionDoc implements StreamPosition {
  @IsInt() @Min(0) offset!: number;
  @IsString() epoch!: string;
}

/** A member of a room's presence: a principal, its public info, its connections. */
export class PresenceMemberDoc implements PresenceMember {
  @IsString() id!: string;
  @IsObject() info!: Record<string, unknown>;
  @IsInt() @Min(1) connections!: number;
}

/** An error in place of a result (`resume`'s rooms, a join's presence). */
export class ErrorPayloadDoc {
  @IsIn(Object.values(ErrorCode)) code!: ErrorCode;
  @IsString() message!: string;
}

/** A room's members (unless counted only, or too many), and their count. */
export class PresenceViewDoc implements PresenceView {
  @IsInt() @Min(0) count!: number;
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PresenceMemberDoc)
  members?: PresenceMemberDoc[];
}

/** The reply to `presence`: the room, its members and their count. */
export class PresenceReplyDoc extends PresenceViewDoc implements PresenceReply {
  @IsString() room!: string;
}

/** A join's presence that could not be read: why, in place of the members. */
export class PresenceFailureDoc {
  @ValidateNested() @Type(() => ErrorPayloadDoc) error!: ErrorPayloadDoc;
}

/** The reply to `join`: the room's position when it keeps history, and its presence if asked. */
export class JoinReplyDoc implements JoinReply {
  @IsString() room!: string;
  @IsOptional() @IsInt() @Min(0) offset?: number;
  @IsOptional() @IsString() epoch?: string;
  /** With `since`: whether every message after it was sent before this reply. */
  @IsOptional() @IsBoolean() recovered?: boolean;
  /** With `presence: true`: the members, or the error that kept them from the reply. */
  @IsOptional()
  @IsObject()
  @JSONSchema({
    oneOf: [schemaRef(PresenceViewDoc), schemaRef(PresenceFailureDoc)],
  })
  presence?: PresenceViewDoc | PresenceFailureDoc;
}

/** A room `resume` could not join again, and why. */
export class ResumeFailureDoc implements ResumeFailure {
  @IsString() room!: string;
  @ValidateNested() @Type(() => ErrorPayloadDoc) error!: ErrorPayloadDoc;
}

/**
 * The reply to `resume`: a result per room, in the order asked. `anyOf`, not `oneOf`: a
 * failure `{room, error}` has the shape of a join's reply too (whose fields but `room` are
 * optional), so it matches both.
 */
export class ResumeReplyDoc implements ResumeReply {
  @IsArray()
  @JSONSchema({
    items: { anyOf: [schemaRef(JoinReplyDoc), schemaRef(ResumeFailureDoc)] },
  })
  rooms!: Array<JoinReplyDoc | ResumeFailureDoc>;
}

/** A kept room message, as `history` returns it and as a room push carries it. */
export class RoomMessageDoc implements RoomMessage {
  @IsString() room!: string;
  @IsString() from!: string;
  @Allow() data!: unknown;
  @IsInt() @Min(1) offset!: number;
}

/** The reply to `history`: the room's position and its kept messages after `since`. */
export class HistoryReplyDoc extends StreamPositionDoc implements HistoryReply {
  @IsString() room!: string;
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => RoomMessageDoc)
  messages!: RoomMessageDoc[];
}

/** The `broadcast` push: who sent it and what. */
export class BroadcastPushDoc implements BroadcastPush {
  @IsString() from!: string;
  @Allow() data!: unknown;
}

/** The `message` push: a room's message, with its `offset` when the room keeps history. */
export class RoomMessagePushDoc implements RoomMessagePush {
  @IsString() room!: string;
  @IsString() from!: string;
  @Allow() data!: unknown;
  @IsOptional() @IsInt() @Min(1) offset?: number;
}

/** A member in a presence diff (no connection count). */
export class PresenceDiffMemberDoc {
  @IsString() id!: string;
  @IsObject() info!: Record<string, unknown>;
}

/** The `presence` push of a listed room: who joined and who left since the last one. */
export class PresenceDiffDoc {
  @IsString() room!: string;
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PresenceDiffMemberDoc)
  joined!: PresenceDiffMemberDoc[];
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => PresenceDiffMemberDoc)
  left!: PresenceDiffMemberDoc[];
}

/** The `presence` push of a room too large to list: its count. */
export class PresenceCountDoc {
  @IsString() room!: string;
  @IsInt() @Min(0) count!: number;
}

/** The `presence` push: a diff, or a count for a room past `PRESENCE_MAX_MEMBERS`. */
export const PRESENCE_PUSH_SCHEMA: JsonSchema = {
  oneOf: [schemaRef(PresenceDiffDoc), schemaRef(PresenceCountDoc)],
};
