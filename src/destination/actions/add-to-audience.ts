import { nativeMembershipAction } from './membership-actions.js'

export const addToAudience = nativeMembershipAction('addToAudience', 'add')
