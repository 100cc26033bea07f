import { legacyMembershipAction } from './membershipActions.js'

export const addUser = legacyMembershipAction('addUser', 'add')
