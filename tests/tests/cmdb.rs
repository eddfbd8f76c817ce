//! Owners from a CMDB: ServiceNow's, against the Table API emulator seeded the way the Service
//! Graph Connector for AWS and SSM discovery leave it, and an HTTP JSON CMDB, against a stub.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patchplane_e2e::servicenow::Emulator;
use patchplane_integrations::cmdb::{
    CiRef, Cmdb, ConfigError, HttpCmdb, HttpCmdbConfig, Lookup, Node, OwnerField, OwnerSource, ServiceNowCmdb,
    VIRTUALIZED_BY,
};
use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::servicenow::{Auth, Client, Config};

const VM: &str = "cmdb_ci_vm_instance";
const AGENT: &str = "cmdb_ci_cloud_system_management_agent";

fn emulator() -> Emulator {
    Emulator::start("bridge", "s3cret", "bridge-client", "client-s3cret")
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(100),
    }
}

fn client(e: &Emulator, password: &str) -> Arc<Client> {
    Arc::new(
        Client::new(Config {
            base_url: e.url.clone(),
            table: "incident".into(),
            auth: Auth::Basic {
                user: "bridge".into(),
                password: password.into(),
            },
            timeout: Duration::from_secs(5),
            retry: retry(),
            batch_writes: false,
        })
        .expect("client"),
    )
}

fn servicenow(e: &Emulator, fields: &[OwnerField]) -> ServiceNowCmdb {
    ServiceNowCmdb::new(client(e, "s3cret"), fields).expect("cmdb")
}

fn node(id: &str) -> Node<'_> {
    Node {
        account: "111111111111",
        region: "us-east-1",
        id,
    }
}

fn ci(sys_id: &str, class: &str, name: &str) -> CiRef {
    CiRef {
        sys_id: sys_id.into(),
        class: class.into(),
        name: name.into(),
    }
}

/// Users and groups most tests share: (alice, bob, linux ops, change board).
fn people(e: &Emulator) -> (String, String, String, String) {
    let alice = e.add_user("Alice Example", "alice@example.com");
    let bob = e.add_user("Bob Example", "bob@example.com");
    let ops = e.add_row(
        "sys_user_group",
        &[("name", "Linux Ops"), ("email", "linux-ops@example.com")],
    );
    let cab = e.add_group("Change Advisory Board");
    (alice, bob, ops, cab)
}

#[tokio::test]
async fn owner_from_owned_by_of_the_vm_instance_with_the_ci_for_the_incident() {
    let e = emulator();
    let (alice, _, ops, _) = people(&e);
    let vm = e.add_ci(
        VM,
        &[
            ("object_id", "i-0abc"),
            ("name", "web-1"),
            ("owned_by", &alice),
            ("support_group", "Linux Ops"),
            ("assignment_group", "Change Advisory Board"),
        ],
    );
    let found = servicenow(&e, &OwnerField::DEFAULT_ORDER)
        .lookup(&node("i-0abc"))
        .await
        .expect("lookup");
    let Lookup::Found(owner) = &found else {
        panic!("{found:?}")
    };
    assert_eq!(owner.name, "Alice Example");
    assert_eq!(owner.email.as_deref(), Some("alice@example.com"));
    assert_eq!(owner.group.as_deref(), Some("Linux Ops"));
    assert_eq!(owner.group_sys_id.as_deref(), Some(ops.as_str()));
    assert_eq!(owner.source, OwnerSource::ServiceNow);
    // The bridge sets the incident's `cmdb_ci` from this.
    assert_eq!(owner.ci, Some(ci(&vm, VM, "web-1")));
    let origin = owner.origin.as_ref().expect("origin");
    assert_eq!(
        (origin.field, origin.ci.sys_id.as_str()),
        (OwnerField::OwnedBy, vm.as_str())
    );
    // The VM instance, then the owner's email: pinned to v2, display values beside the ids.
    let reqs = e.requests();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert!(
        reqs[0].starts_with("GET /api/now/v2/table/cmdb_ci_vm_instance?"),
        "{reqs:#?}"
    );
    assert!(reqs[0].contains("object_id=i-0abc") && reqs[0].contains("sysparm_display_value=all"));
    assert!(reqs[1].starts_with("GET /api/now/v2/table/sys_user?") && reqs[1].contains(&alice));
}

#[tokio::test]
async fn falls_back_to_the_server_the_vm_instance_virtualizes() {
    let e = emulator();
    let (_, bob, _, _) = people(&e);
    let eve = e.add_user("Eve Example", "eve@example.com");
    let vm = e.add_ci(
        VM,
        &[
            ("object_id", "i-0def"),
            ("name", "db-1"),
            ("assignment_group", "Change Advisory Board"),
        ],
    );
    let server = e.add_ci(
        "cmdb_ci_linux_server",
        &[("name", "db-1.example.com"), ("managed_by", &bob)],
    );
    // Another server related by another type must not lend its owner.
    let other = e.add_ci("cmdb_ci_win_server", &[("name", "jump-1"), ("owned_by", &eve)]);
    e.relate(&other, &vm, "Runs on::Runs");
    e.relate(&server, &vm, VIRTUALIZED_BY);
    let found = servicenow(&e, &OwnerField::DEFAULT_ORDER)
        .lookup(&node("i-0def"))
        .await
        .expect("lookup");
    let owner = found.owner().expect("found");
    assert_eq!(
        (owner.name.as_str(), owner.email.as_deref()),
        ("Bob Example", Some("bob@example.com"))
    );
    assert_eq!(
        owner.group, None,
        "the server names no group; the Change Group is not one"
    );
    assert_eq!(
        owner.ci,
        Some(ci(&vm, VM, "db-1")),
        "the incident still names the node's CI"
    );
    let origin = owner.origin.as_ref().expect("origin");
    assert_eq!(origin.field, OwnerField::ManagedBy);
    assert_eq!(origin.ci, ci(&server, "cmdb_ci_linux_server", "db-1.example.com"));
    let reqs = e.requests();
    assert!(reqs.iter().any(|r| r.starts_with("GET /api/now/v2/table/cmdb_rel_ci?")
        && r.contains(&format!("child={vm}"))
        && r.contains("type.name=Virtualized by::Virtualizes")));
}

#[tokio::test]
async fn a_dropped_relationship_type_term_does_not_lend_another_owner() {
    let e = emulator();
    let (_, _, _, _) = people(&e);
    let eve = e.add_user("Eve Example", "eve@example.com");
    let vm = e.add_ci(VM, &[("object_id", "i-0fed"), ("name", "db-2")]);
    let other = e.add_ci("cmdb_ci_win_server", &[("name", "jump-1"), ("owned_by", &eve)]);
    e.relate(&other, &vm, "Runs on::Runs");
    // `type` unreadable: ServiceNow drops `type.name=…` and returns every relationship of the VM.
    e.hide_field("type");
    let found = servicenow(&e, &OwnerField::DEFAULT_ORDER)
        .lookup(&node("i-0fed"))
        .await
        .expect("lookup");
    assert_eq!(found, Lookup::Unowned(Some(ci(&vm, VM, "db-2"))));
}

#[tokio::test]
async fn the_configured_field_order_is_honoured() {
    let e = emulator();
    let (alice, _, ops, _) = people(&e);
    let vm = e.add_ci(
        VM,
        &[
            ("object_id", "i-0123"),
            ("name", "app-1"),
            ("owned_by", &alice),
            ("support_group", &ops),
        ],
    );
    let group_first = servicenow(&e, &[OwnerField::SupportGroup, OwnerField::OwnedBy])
        .lookup(&node("i-0123"))
        .await
        .expect("lookup");
    let owner = group_first.owner().expect("found");
    assert_eq!(
        (owner.name.as_str(), owner.email.as_deref(), owner.group.as_deref()),
        ("Linux Ops", Some("linux-ops@example.com"), Some("Linux Ops"))
    );
    assert_eq!(owner.origin.as_ref().map(|o| o.field), Some(OwnerField::SupportGroup));
    let user_first = servicenow(&e, &[OwnerField::OwnedBy, OwnerField::SupportGroup])
        .lookup(&node("i-0123"))
        .await
        .expect("lookup");
    assert_eq!(user_first.owner().map(|o| o.name.as_str()), Some("Alice Example"));
    // Only fields not set: the CI is known, its owner is not.
    let neither = servicenow(&e, &[OwnerField::ManagedBy, OwnerField::ManagedByGroup])
        .lookup(&node("i-0123"))
        .await
        .expect("lookup");
    assert_eq!(neither, Lookup::Unowned(Some(ci(&vm, VM, "app-1"))));
    assert!(ServiceNowCmdb::new(client(&e, "s3cret"), &[]).is_err());
    assert!(ServiceNowCmdb::new(client(&e, "s3cret"), &[OwnerField::OwnedBy, OwnerField::OwnedBy]).is_err());
}

#[tokio::test]
async fn assignment_group_is_the_change_group_and_never_the_owner() {
    let e = emulator();
    let (_, _, _, cab) = people(&e);
    let vm = e.add_ci(
        VM,
        &[("object_id", "i-0cab"), ("name", "batch-1"), ("assignment_group", &cab)],
    );
    let found = servicenow(&e, &OwnerField::ALL)
        .lookup(&node("i-0cab"))
        .await
        .expect("lookup");
    assert_eq!(found, Lookup::Unowned(Some(ci(&vm, VM, "batch-1"))));
    assert!(
        e.requests().iter().all(|r| !r.contains("assignment_group")),
        "never asked for"
    );
    assert_eq!(
        "assignment_group".parse::<OwnerField>(),
        Err(ConfigError::AssignmentGroup)
    );
}

#[tokio::test]
async fn a_node_the_cmdb_does_not_know_is_unknown_even_when_the_filter_is_dropped() {
    let e = emulator();
    let (alice, _, _, _) = people(&e);
    e.add_ci(VM, &[("object_id", "i-0aaa"), ("name", "a"), ("owned_by", &alice)]);
    e.add_ci(
        AGENT,
        &[
            ("object_id", "mi-0aaa"),
            ("resource_type", "ManagedInstance"),
            ("owned_by", &alice),
        ],
    );
    let c = servicenow(&e, &OwnerField::DEFAULT_ORDER);
    assert_eq!(c.lookup(&node("i-0zzz")).await, Ok(Lookup::Unknown));
    assert_eq!(c.lookup(&node("mi-0zzz")).await, Ok(Lookup::Unknown));
    assert_eq!(c.lookup(&node("")).await, Ok(Lookup::Unknown));
    // `object_id` unreadable: ServiceNow drops the term and returns other CIs; none is taken.
    e.hide_field("object_id");
    assert_eq!(c.lookup(&node("i-0zzz")).await, Ok(Lookup::Unknown));
    assert_eq!(c.lookup(&node("mi-0zzz")).await, Ok(Lookup::Unknown));
}

#[tokio::test]
async fn managed_instances_and_agent_only_ec2_nodes_through_the_ssm_agent_table() {
    let e = emulator();
    let (_, bob, ops, _) = people(&e);
    let mi = e.add_ci(
        AGENT,
        &[
            ("object_id", "mi-0123456789abcdef0"),
            ("name", "onprem-db"),
            ("resource_type", "ManagedInstance"),
            ("cloud_agent_type", "AWS SSM"),
            ("support_group", &ops),
        ],
    );
    // An EC2 agent row with the same id but the other resource type is not the managed instance.
    e.add_ci(
        AGENT,
        &[
            ("object_id", "mi-0123456789abcdef0"),
            ("resource_type", "EC2Instance"),
            ("owned_by", &bob),
        ],
    );
    let c = servicenow(&e, &OwnerField::DEFAULT_ORDER);
    let found = c.lookup(&node("mi-0123456789abcdef0")).await.expect("lookup");
    let owner = found.owner().expect("found");
    assert_eq!(
        (owner.name.as_str(), owner.group.as_deref()),
        ("Linux Ops", Some("Linux Ops"))
    );
    assert_eq!(owner.ci, Some(ci(&mi, AGENT, "onprem-db")));
    assert!(e.requests()[0].contains("resource_type=ManagedInstance"));
    assert!(
        e.requests().iter().all(|r| !r.contains(VM)),
        "no VM instance for a hybrid node"
    );
    // An EC2 instance without a VM instance CI, known to SSM discovery only.
    let ec2 = e.add_ci(
        AGENT,
        &[
            ("object_id", "i-0ssm"),
            ("name", "ssm-only"),
            ("resource_type", "EC2Instance"),
            ("owned_by", &bob),
        ],
    );
    let found = c.lookup(&node("i-0ssm")).await.expect("lookup");
    let owner = found.owner().expect("found");
    assert_eq!(owner.name, "Bob Example");
    assert_eq!(owner.ci, Some(ci(&ec2, AGENT, "ssm-only")));
}

#[tokio::test]
async fn an_outage_is_retryable_and_bad_credentials_are_not() {
    let e = emulator();
    let (alice, _, _, _) = people(&e);
    e.add_ci(VM, &[("object_id", "i-0abc"), ("owned_by", &alice)]);
    let refused = ServiceNowCmdb::new(client(&e, "wrong"), &OwnerField::DEFAULT_ORDER)
        .expect("cmdb")
        .lookup(&node("i-0abc"))
        .await
        .expect_err("401");
    assert_eq!(refused.status, Some(401));
    assert!(!refused.is_retryable());
    e.outage(Duration::from_secs(30));
    let down = servicenow(&e, &OwnerField::DEFAULT_ORDER)
        .lookup(&node("i-0abc"))
        .await
        .expect_err("outage");
    assert_eq!(down.status, Some(503));
    assert!(down.is_retryable(), "the bridge retries the message later");
    // A 429 within the retry budget is absorbed.
    let e = emulator();
    e.add_ci(VM, &[("object_id", "i-0abc"), ("name", "web-1")]);
    e.script(429, Some(0), 1);
    let c = servicenow(&e, &OwnerField::DEFAULT_ORDER);
    assert!(matches!(c.lookup(&node("i-0abc")).await, Ok(Lookup::Unowned(Some(_)))));
}

// ---------------------------------------------------------------------------------------------
// HTTP JSON CMDB

/// A tiny HTTP/1.1 JSON CMDB: answers each path from `routes` (status, `Retry-After`, body), 404
/// otherwise, and records the request line and the `authorization` header.
struct Stub {
    url: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

fn stub(routes: Vec<(String, u16, &'static str)>) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut auth = String::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    auth = v.trim().to_owned();
                }
            }
            let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            log.lock().expect("log").push((target.clone(), auth));
            let (status, body) = routes
                .iter()
                .find(|(p, _, _)| *p == target)
                .map(|(_, s, b)| (*s, *b))
                .unwrap_or((404, r#"{"error":"no such node"}"#));
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 0\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.flush();
        }
    });
    Stub { url, seen }
}

fn http(url: String, token: Option<&str>) -> HttpCmdb {
    HttpCmdb::new(HttpCmdbConfig {
        url,
        token: token.map(str::to_owned),
        timeout: Duration::from_secs(5),
        retry: retry(),
    })
    .expect("http cmdb")
}

#[tokio::test]
async fn http_cmdb_found_with_a_bearer_token_and_encoded_placeholders() {
    let s = stub(vec![(
        "/owners/111111111111/us-east-1/i-0abc".into(),
        200,
        r#"{"owner": "Payments", "email": "payments@example.com", "group": "Payments Ops", "tier": 1}"#,
    )]);
    let c = http(
        format!("{}/owners/{{account}}/{{region}}/{{node}}", s.url),
        Some("t0ken"),
    );
    let found = c.lookup(&node("i-0abc")).await.expect("lookup");
    let owner = found.owner().expect("found");
    assert_eq!(
        (owner.name.as_str(), owner.email.as_deref(), owner.group.as_deref()),
        ("Payments", Some("payments@example.com"), Some("Payments Ops"))
    );
    assert_eq!((owner.source, owner.ci.as_ref()), (OwnerSource::Http, None));
    assert_eq!(
        s.seen.lock().expect("log")[0],
        ("/owners/111111111111/us-east-1/i-0abc".into(), "Bearer t0ken".into())
    );
    // Through the enum the bridge holds; an id that would escape the path is encoded.
    let c = Cmdb::Http(c);
    assert_eq!(c.source(), OwnerSource::Http);
    assert_eq!(c.lookup(&node("i-0abc/../x")).await, Ok(Lookup::Unknown));
    assert_eq!(
        s.seen.lock().expect("log")[1].0,
        "/owners/111111111111/us-east-1/i-0abc%2F..%2Fx"
    );
}

#[tokio::test]
async fn http_cmdb_404_is_unknown_and_503_is_retryable() {
    let s = stub(vec![
        ("/o/i-0down".into(), 503, r#"{"error":"maintenance"}"#),
        ("/o/i-0deny".into(), 403, r#"{"error":"forbidden"}"#),
        ("/o/i-0none".into(), 200, r#"{"owner": null}"#),
        ("/o/i-0bad".into(), 200, "<html>oops</html>"),
    ]);
    let c = http(format!("{}/o/{{node}}", s.url), None);
    assert_eq!(c.lookup(&node("i-0gone")).await, Ok(Lookup::Unknown));
    assert_eq!(s.seen.lock().expect("log")[0].1, "", "no token configured, none sent");
    let down = c.lookup(&node("i-0down")).await.expect_err("503");
    assert_eq!((down.status, down.is_retryable()), (Some(503), true));
    let n = s
        .seen
        .lock()
        .expect("log")
        .iter()
        .filter(|(p, _)| p == "/o/i-0down")
        .count();
    assert_eq!(n, 2, "retried within the policy's attempts");
    let deny = c.lookup(&node("i-0deny")).await.expect_err("403");
    assert_eq!((deny.status, deny.is_retryable()), (Some(403), false));
    assert_eq!(c.lookup(&node("i-0none")).await, Ok(Lookup::Unowned(None)));
    let bad = c.lookup(&node("i-0bad")).await.expect_err("bad body");
    assert!(
        !bad.is_retryable() && bad.message.contains("unexpected response body"),
        "{bad}"
    );
    // Nobody listening: a connection failure, retryable.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let gone = http(format!("http://127.0.0.1:{port}/o/{{node}}"), None);
    let refused = gone.lookup(&node("i-0abc")).await.expect_err("refused");
    assert_eq!((refused.status, refused.is_retryable()), (None, true));
}

#[tokio::test]
async fn either_cmdb_behind_one_enum() {
    let e = emulator();
    let (alice, _, _, _) = people(&e);
    e.add_ci(VM, &[("object_id", "i-0abc"), ("owned_by", &alice)]);
    let c = Cmdb::ServiceNow(servicenow(&e, &OwnerField::DEFAULT_ORDER));
    assert_eq!(c.source(), OwnerSource::ServiceNow);
    let found = c.lookup(&node("i-0abc")).await.expect("lookup");
    assert_eq!(found.ci().map(|c| c.class.as_str()), Some(VM));
    assert!(matches!(
        HttpCmdb::new(HttpCmdbConfig {
            url: "https://cmdb.example.com/owners/{instance}".into(),
            token: None,
            timeout: Duration::from_secs(1),
            retry: retry(),
        }),
        Err(ConfigError::Template { .. })
    ));
}
