import { nativeMembershipAction } from './membershipActions.js'

export const removeFromAudience = nativeMembershipAction('removeFromAudience', 'delete')
