import { legacyMembershipAction } from './membership-actions.js'

export const addUser = legacyMembershipAction('addUser', 'add')
