import { nativeMembershipAction } from './membership-actions.js'

export const removeFromAudience = nativeMembershipAction('removeFromAudience', 'delete')
