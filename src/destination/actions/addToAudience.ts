import { nativeMembershipAction } from './membershipActions.js'

export const addToAudience = nativeMembershipAction('addToAudience', 'add')
