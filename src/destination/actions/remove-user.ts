import { legacyMembershipAction } from './membership-actions.js'

export const removeUser = legacyMembershipAction('removeUser', 'delete')
