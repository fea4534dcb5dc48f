/** TypeBox schemas of accounts, auth and profiles; the shared ones are in ../http/common-schemas.ts. */
import { Type } from 'typebox';
import { closed, IsoDate } from '../http/common-schemas.js';

/** An account as answered by sign-up and /v1/me. */
export const AccountSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String({ format: 'email' }),
  displayName: Type.String(),
  role: Type.Union([Type.Literal('viewer'), Type.Literal('creator'), Type.Literal('admin')]),
  createdAt: IsoDate,
});

/** `POST /v1/accounts` body; the password policy is checked in code (400 WEAK_PASSWORD). */
export const CreateAccountBody = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 254 }),
    password: Type.String({ maxLength: 256, description: '10+ characters with a letter and a digit, not the email' }),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  closed,
);

/** `POST /v1/auth/login` body. */
export const LoginBody = Type.Object(
  { email: Type.String({ maxLength: 254 }), password: Type.String({ maxLength: 256 }) },
  closed,
);

/** `POST /v1/auth/refresh` and `/logout` body. */
export const RefreshBody = Type.Object({ refreshToken: Type.String({ maxLength: 200 }) }, closed);

/** Access and refresh token pair. */
export const TokenPairSchema = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ description: 'access token lifetime, seconds' }),
  tokenType: Type.Literal('Bearer'),
});

// Spelled out (not mapped from MATURITY_RATINGS) so the static type keeps the literals; the test checks they agree.
/** A maturity rating (profiles' ceilings, titles' ratings). */
export const Rating = Type.Union(
  [Type.Literal('G'), Type.Literal('PG'), Type.Literal('PG-13'), Type.Literal('R'), Type.Literal('NC-17')],
  { description: 'MPAA scale, lowest first; kids profiles at most PG-13' },
);
const Kind = Type.Union([Type.Literal('standard'), Type.Literal('kids')]);
const Pin = Type.String({ pattern: '^[0-9]{4}$', description: 'four digits' });
const Avatar = Type.String({ pattern: '^[a-z0-9-]{1,32}$', description: 'name of a built-in avatar' });

/** A viewing profile (the PIN is never part of it). */
export const ProfileSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  kind: Kind,
  maturityCeiling: Rating,
  hasPin: Type.Boolean(),
  avatar: Type.String(),
  createdAt: IsoDate,
});

/** `POST /v1/profiles` body. */
export const CreateProfileBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 50 }),
    kind: Type.Optional(Kind),
    maturityCeiling: Type.Optional(Rating),
    pin: Type.Optional(Pin),
    avatar: Type.Optional(Avatar),
  },
  closed,
);

/** `PATCH /v1/profiles/:id` body: at least one field. */
export const UpdateProfileBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
    kind: Type.Optional(Kind),
    maturityCeiling: Type.Optional(Rating),
    pin: Type.Optional(Type.Union([Pin, Type.Null()], { description: 'four digits, or null to remove the PIN' })),
    avatar: Type.Optional(Avatar),
    currentPin: Type.Optional({ ...Pin, description: "the profile's PIN: needed to change a PIN-protected profile" }),
    accountPassword: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the account password: instead of currentPin, or to loosen a kids profile without a PIN' })),
  },
  { ...closed, minProperties: 1 },
);

/** `POST /v1/profiles/:id/verify-pin` body. */
export const PinBody = Type.Object({ pin: Pin }, closed);
