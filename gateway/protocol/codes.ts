/**
 * The codes that name departments and their systems, in topic names, heartbeat keys, tokens and the
 * registry. JSON Schemas under schemas/ spell the same patterns out as data.
 */

/** `<department>/<system>`: both parts lower-case letters, digits and '-', starting with a letter. */
export const SYSTEM_ID_PATTERN = /^[a-z][a-z0-9-]{1,62}\/[a-z][a-z0-9-]{1,62}$/;
/** A certificate type's name, e.g. `resident-id-card`: the same shape as a department code. */
export const CERTIFICATE_TYPE_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;
export const DEPARTMENT_CODE_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;
