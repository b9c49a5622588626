// What a staff administrator may give and change, as the API decides it
// (chalicelib/staff/accounts.py may_manage, update, set_status): the staff page offers no more.

export const PROGRAM_ROLES = ["super_admin", "ops_manager", "finance", "auditor", "merchant_admin", "store_manager", "clerk"] as const;
export type Role = (typeof PROGRAM_ROLES)[number];
export const MERCHANT_ROLES: readonly Role[] = ["merchant_admin", "store_manager", "clerk"];

export interface Caller { staff_id: string; role: string; merchant_id: string | null }
export interface Account { staff_id: string; role: string; merchant_id: string | null }

/** The roles ``caller`` may give: a super admin any; a merchant admin its merchant's roles. */
export function grantable(caller: Caller | null | undefined): Role[] {
  if (caller?.role === "super_admin") return [...PROGRAM_ROLES];
  if (caller?.role === "merchant_admin") return [...MERCHANT_ROLES];
  return [];
}

/** Whether ``caller`` may change, reset, disable or enable ``account`` (not its own role or status). */
export function manages(caller: Caller | null | undefined, account: Account): boolean {
  if (!caller) return false;
  if (caller.role === "super_admin") return true;
  return caller.role === "merchant_admin" && caller.merchant_id !== null
    && MERCHANT_ROLES.includes(account.role as Role) && account.merchant_id === caller.merchant_id;
}

/** A role that acts for the whole program: no merchant or store. */
export const programWide = (role: string): boolean => !MERCHANT_ROLES.includes(role as Role);
