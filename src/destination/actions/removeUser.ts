import { legacyMembershipAction } from './membershipActions.js'

export const removeUser = legacyMembershipAction('removeUser', 'delete')
