//! Enrichment with the owner chain through the ServiceNow CMDB (issue #12): the real
//! `ServiceNowCmdb` client over HTTP against the Table API emulator, with the chain's cache warm
//! (every node asked before) and cold (a new chain per lookup: the CI query, the owner's
//! reference and its user row, as a first event about a node costs). Tags come from memory, so
//! the figure is the CMDB step's. `cargo xtask bench` runs it and prints the medians.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use patchplane_bridge::enrich::Tags;
use patchplane_bridge::enrich::owners::{CmdbStep, OwnerChain, Step};
use patchplane_e2e::servicenow::Emulator;
use patchplane_integrations::cmdb::{Cmdb, OwnerField, ServiceNowCmdb};
use patchplane_integrations::retry::RetryPolicy;
use patchplane_integrations::servicenow::{Auth, Client, Config};

const NODES: usize = 50;

fn chain(client: &Arc<Client>) -> OwnerChain {
    let cmdb = ServiceNowCmdb::new(client.clone(), &OwnerField::DEFAULT_ORDER).expect("cmdb");
    OwnerChain::new(
        vec![
            Step::Tags(vec!["Owner".into()]),
            Step::Cmdb(Arc::new(CmdbStep::new("servicenow cmdb", Cmdb::ServiceNow(cmdb)))),
        ],
        Duration::from_secs(3600),
        Duration::from_secs(900),
    )
}

fn bench(c: &mut Criterion) {
    let snow = Emulator::start("bridge", "bench", "id", "unused");
    let user = snow.add_user("Dana Data", "dana@example.com");
    let group = snow.add_group("Data Platform");
    let nodes: Vec<String> = (0..NODES).map(|i| format!("i-{:017x}", 0xbe7c0 + i)).collect();
    for n in &nodes {
        snow.add_ci(
            "cmdb_ci_vm_instance",
            &[
                ("object_id", n),
                ("name", n),
                ("owned_by", &user),
                ("support_group", &group),
            ],
        );
    }
    let client = Arc::new(
        Client::new(Config {
            base_url: snow.url.clone(),
            table: "incident".into(),
            auth: Auth::Basic {
                user: "bridge".into(),
                password: "bench".into(),
            },
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            batch_writes: false,
        })
        .expect("client"),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tags = Tags::new();
    let warm = chain(&client);
    rt.block_on(async {
        for n in &nodes {
            let found = warm
                .resolve("123456789012", "us-east-1", n, &tags)
                .await
                .expect("warm up");
            assert!(found.is_some(), "the CMDB knows {n}");
        }
    });
    let mut g = c.benchmark_group("enrich_cmdb");
    g.bench_function("owner_cache_warm", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % NODES;
            rt.block_on(warm.resolve("123456789012", "us-east-1", &nodes[i], &tags))
                .expect("owner")
        })
    });
    g.bench_function("owner_cache_cold", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % NODES;
            let cold = chain(&client);
            rt.block_on(cold.resolve("123456789012", "us-east-1", &nodes[i], &tags))
                .expect("owner")
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
