//! [`ServiceNowCmdb`]: owners from ServiceNow's CMDB, read through the Table API client.
//!
//! # How ServiceNow keeps AWS nodes (checked against ServiceNow's documentation)
//! - *CMDB classes targeted in Service Graph Connector for AWS* (ServiceNow/ServiceNowDocs,
//!   `markdown/servicenow-platform/service-graph-connectors/cmdb-aws-classes.md`): an EC2
//!   instance is a Virtual Machine Instance `[cmdb_ci_vm_instance]` whose Object ID `object_id`
//!   is the instance id; its operating system is a Server `[cmdb_ci_server]` — Linux Server
//!   `[cmdb_ci_linux_server]` or Windows Server `[cmdb_ci_win_server]` when the SSM service is
//!   enabled — related by **`Virtualized by::Virtualizes`** with the **server as parent** and the
//!   **VM instance as child** (the doc's table: "Server \[cmdb_ci_server\] | Virtualized
//!   by::Virtualizes | Virtual Machine Instance \[cmdb_ci_vm_instance\]"). Relationships are rows
//!   of `cmdb_rel_ci` (`parent`, `child`, `type` → `cmdb_rel_type`, whose name is that string).
//! - *AWS SSM Cloud Agents pattern-based discovery* (same repository,
//!   `markdown/it-operations-management/discovery-and-service-mapping-patterns/aws-ssm-cloud-agents-pattern.md`):
//!   an SSM agent is a Cloud System Management Agent `[cmdb_ci_cloud_system_management_agent]`
//!   (extends `cmdb_ci_vm_object`) with `object_id` = the node's id and `resource_type`
//!   `EC2Instance` or `ManagedInstance`; the pattern relates it `Runs on::Runs` to the VM
//!   instance. A hybrid node (`mi-…`) has no VM instance, only this CI.
//! - *Table API* (`markdown/api-reference/rest-apis/c_TableAPI.md`): `sysparm_display_value`
//!   is `true`, `false` or `all` ("returns both actual and display values"); a reference's display
//!   value is the display field of the referenced record (`name` for users and groups). The doc
//!   does not describe dot-walked names in `sysparm_fields` and says "invalid fields are
//!   ignored", so an `owned_by.email` the instance did not honour would silently vanish. The
//!   client therefore reads the owner fields with `sysparm_display_value=all` (name and sys_id in
//!   one request) and fetches the one chosen user or group by sys_id (`sys_user` /
//!   `sys_user_group`: `name`, `email`) for its email.
//!
//! # The ServiceNow lookup
//! `i-…` (and any other id but `mi-…`): the `cmdb_ci_vm_instance` row with `object_id` = the id
//! (newest `sys_updated_on` first, should reconciliation have left a duplicate); its owner fields
//! in the configured order ([`OwnerField`], default `owned_by, managed_by, support_group,
//! managed_by_group`); when it has none, the servers related to it by `Virtualized
//! by::Virtualizes` (read through `cmdb_ci`, so any server class); when there is no VM instance,
//! the SSM agent with `resource_type=EC2Instance`. `mi-…`: the SSM agent with
//! `resource_type=ManagedInstance`. `assignment_group` on a CI is labelled "Change Group" and is
//! never read. ServiceNow drops a query term it cannot apply without a word, so every row is
//! checked against what was asked (`object_id`, `resource_type`, `child`, the relationship type,
//! the sys_ids) before it is believed. The account and region take no part: the CIs carry neither,
//! and instance and managed-instance ids are not reused across accounts in practice.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::{CiRef, ConfigError, Lookup, Node, Owner, OwnerField, OwnerOrigin, OwnerSource, non_empty};
use crate::retry::Failure;
use crate::servicenow::{Client, query_value};

/// VM instances: EC2 instances, keyed by `object_id`.
pub const VM_INSTANCE: &str = "cmdb_ci_vm_instance";
/// SSM agents, keyed by `object_id` and `resource_type`.
pub const SSM_AGENT: &str = "cmdb_ci_cloud_system_management_agent";
/// The relationship from a server (parent) to the VM instance (child) it runs on.
pub const VIRTUALIZED_BY: &str = "Virtualized by::Virtualizes";

/// One row as the Table API sends it.
type Row = Map<String, Json>;

/// ServiceNow's CMDB, read through the Table API client.
#[derive(Clone)]
pub struct ServiceNowCmdb {
    client: Arc<Client>,
    fields: Arc<[OwnerField]>,
}

impl std::fmt::Debug for ServiceNowCmdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceNowCmdb").field("fields", &self.fields).finish()
    }
}

/// What the owner fields of one CI say, before the contact lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pick {
    field: OwnerField,
    sys_id: String,
    display: String,
    group: Option<(String, String)>,
}

impl ServiceNowCmdb {
    /// Reads owners with `client` (shared with the incident sink, or its own), trying `fields` in
    /// order ([`OwnerField::DEFAULT_ORDER`] is the usual choice).
    pub fn new(client: Arc<Client>, fields: &[OwnerField]) -> Result<ServiceNowCmdb, ConfigError> {
        let twice = fields.iter().enumerate().any(|(i, f)| fields[..i].contains(f));
        if fields.is_empty() || twice {
            let names: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
            return Err(ConfigError::Fields(names.join(", ")));
        }
        Ok(ServiceNowCmdb {
            client,
            fields: fields.into(),
        })
    }

    /// The owner of `node` (see the module doc for the order of the look-ups). Two requests when
    /// the VM instance names its owner, four when the owner is on the server.
    pub async fn lookup(&self, node: &Node<'_>) -> Result<Lookup, Failure> {
        let id = node.id;
        if id.is_empty() {
            // `object_id=` would match every CI without one.
            return Ok(Lookup::Unknown);
        }
        if id.starts_with("mi-") {
            return match self.find(SSM_AGENT, id, Some("ManagedInstance")).await? {
                Some(agent) => self.owner_of(&agent, SSM_AGENT).await,
                None => Ok(Lookup::Unknown),
            };
        }
        if let Some(vm) = self.find(VM_INSTANCE, id, None).await? {
            let vm_ci = ci_ref(&vm, VM_INSTANCE);
            if let Some(owner) = self.owner_on(&vm, &vm_ci).await? {
                return Ok(Lookup::Found(Owner {
                    ci: Some(vm_ci),
                    ..owner
                }));
            }
            for server in self.servers_of(&vm_ci.sys_id).await? {
                let server_ci = ci_ref(&server, "cmdb_ci");
                if let Some(owner) = self.owner_on(&server, &server_ci).await? {
                    return Ok(Lookup::Found(Owner {
                        ci: Some(vm_ci),
                        ..owner
                    }));
                }
            }
            return Ok(Lookup::Unowned(Some(vm_ci)));
        }
        match self.find(SSM_AGENT, id, Some("EC2Instance")).await? {
            Some(agent) => self.owner_of(&agent, SSM_AGENT).await,
            None => Ok(Lookup::Unknown),
        }
    }

    /// Found or Unowned for one CI that is the node's own.
    async fn owner_of(&self, row: &Row, table: &str) -> Result<Lookup, Failure> {
        let ci = ci_ref(row, table);
        Ok(match self.owner_on(row, &ci).await? {
            Some(owner) => Lookup::Found(Owner { ci: Some(ci), ..owner }),
            None => Lookup::Unowned(Some(ci)),
        })
    }

    /// The fields every CI read asks for.
    fn ci_fields(&self, extra: &[&str]) -> String {
        let mut fields = vec!["sys_id", "sys_class_name", "name"];
        fields.extend(extra);
        fields.extend(self.fields.iter().map(|f| f.as_str()));
        fields.join(",")
    }

    /// The newest CI of `table` whose `object_id` (and `resource_type`) is exactly `id`.
    async fn find(&self, table: &str, id: &str, resource_type: Option<&str>) -> Result<Option<Row>, Failure> {
        let mut query = format!("object_id={}", query_value(id));
        let mut extra = vec!["object_id"];
        if let Some(rt) = resource_type {
            query.push_str(&format!("^resource_type={}", query_value(rt)));
            extra.push("resource_type");
        }
        query.push_str("^ORDERBYDESCsys_updated_on");
        let fields = self.ci_fields(&extra);
        let rows = self.client.rows(table, &read(&query, &fields, "10")).await?;
        // A dropped term would hand back other CIs: believe only rows carrying what was asked.
        Ok(rows
            .into_iter()
            .find(|r| value(r, "object_id") == id && resource_type.is_none_or(|rt| value(r, "resource_type") == rt)))
    }

    /// The servers related to the VM instance `vm` by `Virtualized by::Virtualizes` (parent the
    /// server, child the VM instance), in the order of the relationships.
    async fn servers_of(&self, vm: &str) -> Result<Vec<Row>, Failure> {
        let query = format!(
            "child={}^type.name={}^ORDERBYsys_created_on",
            query_value(vm),
            query_value(VIRTUALIZED_BY)
        );
        let rels = self
            .client
            .rows("cmdb_rel_ci", &read(&query, "sys_id,parent,child,type,type.name", "20"))
            .await?;
        let mut parents: Vec<String> = Vec::new();
        for rel in &rels {
            // A dropped `type.name` term shows here: the type's display value is its name (the
            // dot-walked `type.name` field, where the instance returns it, says the same).
            let typed = display(rel, "type") == VIRTUALIZED_BY || value(rel, "type.name") == VIRTUALIZED_BY;
            let parent = value(rel, "parent");
            // Only sys_ids go into the `IN` list below, where a comma or caret would split it.
            let sys_id = !parent.is_empty() && parent.bytes().all(|b| b.is_ascii_alphanumeric());
            if value(rel, "child") == vm && typed && sys_id && !parents.iter().any(|p| p == parent) {
                parents.push(parent.to_owned());
            }
        }
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        let query = format!("sys_idIN{}", parents.join(","));
        let fields = self.ci_fields(&[]);
        let limit = parents.len().to_string();
        // Through `cmdb_ci`, the base class: a server may be any class below it.
        let rows = self.client.rows("cmdb_ci", &read(&query, &fields, &limit)).await?;
        Ok(parents
            .iter()
            .filter_map(|p| rows.iter().find(|r| value(r, "sys_id") == p).cloned())
            .collect())
    }

    /// The owner named on one CI (`ci` is that CI), with the owner's email.
    async fn owner_on(&self, row: &Row, ci: &CiRef) -> Result<Option<Owner>, Failure> {
        let Some(pick) = pick(row, &self.fields) else {
            return Ok(None);
        };
        let contact = self.contact(pick.field.table(), &pick.sys_id).await?;
        let (name, email) = match contact {
            Some((name, email)) => (
                if pick.display.is_empty() {
                    name
                } else {
                    pick.display.clone()
                },
                email,
            ),
            None => (pick.display.clone(), String::new()),
        };
        let (group, group_sys_id) = pick.group.clone().unzip();
        Ok(Some(Owner {
            name: if name.is_empty() { pick.sys_id.clone() } else { name },
            email: non_empty(email),
            group,
            group_sys_id,
            source: OwnerSource::ServiceNow,
            ci: None,
            origin: Some(OwnerOrigin {
                field: pick.field,
                ci: ci.clone(),
            }),
        }))
    }

    /// `name` and `email` of one user or group. `None` when the row is missing or hidden by an
    /// ACL (403/404): the owner is still known by its display name.
    async fn contact(&self, table: &str, sys_id: &str) -> Result<Option<(String, String)>, Failure> {
        let query = format!("sys_id={}", query_value(sys_id));
        let rows = match self.client.rows(table, &read(&query, "sys_id,name,email", "1")).await {
            Ok(rows) => rows,
            Err(f) if matches!(f.status, Some(403 | 404)) => return Ok(None),
            Err(f) => return Err(f),
        };
        Ok(rows
            .iter()
            .find(|r| value(r, "sys_id") == sys_id)
            .map(|r| (value(r, "name").to_owned(), value(r, "email").to_owned())))
    }
}

/// The query parameters of a read: display values beside the stored ones, no links.
fn read<'a>(query: &'a str, fields: &'a str, limit: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("sysparm_query", query),
        ("sysparm_fields", fields),
        ("sysparm_limit", limit),
        ("sysparm_display_value", "all"),
        ("sysparm_exclude_reference_link", "true"),
    ]
}

/// The first owner field of `fields` set on `row`, and the first group field set.
fn pick(row: &Row, fields: &[OwnerField]) -> Option<Pick> {
    let set = |f: &&OwnerField| !value(row, f.as_str()).is_empty();
    let field = *fields.iter().find(set)?;
    let group = fields
        .iter()
        .filter(|f| f.is_group())
        .find(set)
        .map(|f| (display(row, f.as_str()).to_owned(), value(row, f.as_str()).to_owned()));
    Some(Pick {
        field,
        sys_id: value(row, field.as_str()).to_owned(),
        display: display(row, field.as_str()).to_owned(),
        group,
    })
}

/// A field's stored value, whatever `sysparm_display_value` shaped it as: a string, or an object
/// with `value` (`all`, or a reference with its link).
fn value<'a>(row: &'a Row, field: &str) -> &'a str {
    match row.get(field) {
        Some(Json::String(s)) => s,
        Some(Json::Object(o)) => o.get("value").and_then(Json::as_str).unwrap_or(""),
        _ => "",
    }
}

/// A field's display value: `display_value` of an object, else the string itself.
fn display<'a>(row: &'a Row, field: &str) -> &'a str {
    match row.get(field) {
        Some(Json::String(s)) => s,
        Some(Json::Object(o)) => o.get("display_value").and_then(Json::as_str).unwrap_or(""),
        _ => "",
    }
}

fn ci_ref(row: &Row, table: &str) -> CiRef {
    let class = value(row, "sys_class_name");
    CiRef {
        sys_id: value(row, "sys_id").to_owned(),
        class: if class.is_empty() { table } else { class }.to_owned(),
        name: display(row, "name").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_read_in_every_display_mode() {
        let row: Row = serde_json::from_value(json!({
            "owned_by": {"display_value": "Ada Lovelace", "value": "a1", "link": "https://x/a1"},
            "managed_by": {"link": "https://x/b2", "value": "b2"},
            "support_group": "c3",
            "name": {"display_value": "web-1", "value": "web-1"},
            "empty": {"display_value": "", "value": ""},
        }))
        .expect("a row");
        assert_eq!(
            (value(&row, "owned_by"), display(&row, "owned_by")),
            ("a1", "Ada Lovelace")
        );
        assert_eq!((value(&row, "managed_by"), display(&row, "managed_by")), ("b2", ""));
        assert_eq!(
            (value(&row, "support_group"), display(&row, "support_group")),
            ("c3", "c3")
        );
        assert_eq!((value(&row, "missing"), value(&row, "empty")), ("", ""));
    }

    #[test]
    fn picks_follow_the_order_and_skip_empty_fields() {
        let row: Row = serde_json::from_value(json!({
            "owned_by": {"display_value": "", "value": ""},
            "managed_by": {"display_value": "Bob", "value": "u2"},
            "support_group": {"display_value": "Linux Ops", "value": "g1"},
            "managed_by_group": {"display_value": "Infra", "value": "g2"},
            "assignment_group": {"display_value": "CAB", "value": "g3"},
        }))
        .expect("a row");
        let p = pick(&row, &OwnerField::DEFAULT_ORDER).expect("owner");
        assert_eq!(
            (p.field, p.display.as_str(), p.sys_id.as_str()),
            (OwnerField::ManagedBy, "Bob", "u2")
        );
        assert_eq!(p.group, Some(("Linux Ops".into(), "g1".into())));
        let g = pick(&row, &[OwnerField::ManagedByGroup, OwnerField::OwnedBy]).expect("owner");
        assert_eq!(
            (g.field, g.group),
            (OwnerField::ManagedByGroup, Some(("Infra".into(), "g2".into())))
        );
        assert_eq!(pick(&row, &[OwnerField::OwnedBy, OwnerField::AssignedTo]), None);
    }

    #[test]
    fn ci_refs_fall_back_to_the_table() {
        let row: Row = serde_json::from_value(json!({
            "sys_id": {"display_value": "s1", "value": "s1"},
            "sys_class_name": {"display_value": "Linux Server", "value": "cmdb_ci_linux_server"},
            "name": {"display_value": "web-1", "value": "web-1"},
        }))
        .expect("a row");
        assert_eq!(
            ci_ref(&row, "cmdb_ci"),
            CiRef {
                sys_id: "s1".into(),
                class: "cmdb_ci_linux_server".into(),
                name: "web-1".into()
            }
        );
        assert_eq!(ci_ref(&Row::new(), VM_INSTANCE).class, VM_INSTANCE);
    }
}
