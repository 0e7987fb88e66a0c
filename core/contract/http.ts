// What modules' routes share with the core's API: who is logged in, and the error answers'
// OpenAPI shapes (every route answers errors as { error, code? }).
export type { KioskCredential, Principal } from '../http/auth.ts';
export { errorResponses, errorSchema } from '../http/schemas.ts';
