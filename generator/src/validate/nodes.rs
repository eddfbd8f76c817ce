//! `nodes:`: the roles the node-output policy is attached to.

use super::Checker;
use crate::ids::is_role_name;
use crate::policy::Policy;

/// IAM attaches at most this many roles per call of a policy's `Roles`; the limit that matters is
/// the role's (10 managed policies by default), which the account owns.
const MAX_ROLES: usize = 20;

/// Checks `nodes.output_policy.role_names`.
pub(super) fn check(c: &mut Checker, p: &Policy) {
    let roles = &p.nodes.output_policy.role_names;
    if roles.len() > MAX_ROLES {
        c.error(
            "nodes.output_policy.role_names",
            format!("at most {MAX_ROLES} roles; attach the policy to more through your own templates"),
        );
    }
    for (i, r) in roles.iter().enumerate() {
        if !is_role_name(r) {
            c.error(
                format!("nodes.output_policy.role_names[{i}]"),
                "must be an IAM role name (1-64 of letters, digits and +=,.@_-)",
            );
        }
    }
}
