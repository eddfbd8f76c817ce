//! Property tests: no input makes the loader or the renderer panic, and policy strings either come
//! out of the template as the same literal values or are rejected by validation.

use std::path::Path;

use patchplane::cron::Cron;
use patchplane::render::render;
use patchplane::{LoadError, load_str};
use proptest::prelude::*;
use serde_yaml::Value;

const BASE: &str = include_str!("../../examples/org-policy.yaml");

fn base_value() -> Value {
    serde_yaml::from_str(BASE).expect("example parses")
}

/// Strings built from the pieces most likely to break out of a YAML or handlebars template.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just(":".to_owned()),
        Just(": ".to_owned()),
        Just("\n".to_owned()),
        Just("\n  injected: true\n".to_owned()),
        Just("{{".to_owned()),
        Just("}}".to_owned()),
        Just("{{description}}".to_owned()),
        Just("#".to_owned()),
        Just(" # comment".to_owned()),
        Just("&anchor ".to_owned()),
        Just("*anchor".to_owned()),
        Just("!Ref ".to_owned()),
        Just("!GetAtt MaintenanceWindowRole.Arn".to_owned()),
        Just("${AWS::AccountId}".to_owned()),
        Just("- ".to_owned()),
        Just("[".to_owned()),
        Just("}".to_owned()),
        Just("\\".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("\u{85}".to_owned()),
        Just("2024-01-01".to_owned()),
        Just("yes".to_owned()),
        "[a-zA-Z0-9 ._-]{0,6}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

/// Every path (as a list of keys / indexes) to a node of `v`.
fn paths(v: &Value, prefix: Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                let mut p = prefix.clone();
                p.push(k.clone());
                paths(child, p, out);
            }
        }
        Value::Sequence(s) => {
            for (i, child) in s.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(Value::from(i as u64));
                paths(child, p, out);
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    let mut cur = v;
    for k in path {
        cur = match (cur, k) {
            (Value::Sequence(s), Value::Number(n)) => s.get_mut(n.as_u64()? as usize)?,
            (Value::Mapping(m), k) => m.get_mut(k)?,
            _ => return None,
        };
    }
    Some(cur)
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Value),
    Delete,
    AddKey(String),
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        hostile().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-3i64..40).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
        Just(Value::Sequence(vec![])),
        Just(Value::Mapping(Default::default())),
        any::<f64>().prop_map(Value::from),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => scalar().prop_map(Mutation::Replace),
        2 => Just(Mutation::Delete),
        1 => "[a-z_]{1,12}".prop_map(Mutation::AddKey),
    ]
}

fn apply(v: &mut Value, path: &[Value], m: &Mutation) {
    match m {
        Mutation::Replace(new) => {
            if let Some(n) = node_mut(v, path) {
                *n = new.clone();
            }
        }
        Mutation::Delete => {
            let Some((last, parent)) = path.split_last() else {
                return;
            };
            match node_mut(v, parent) {
                Some(Value::Mapping(m)) => {
                    m.remove(last);
                }
                Some(Value::Sequence(s)) => {
                    if let Some(i) = last.as_u64().map(|i| i as usize).filter(|i| *i < s.len()) {
                        s.remove(i);
                    }
                }
                _ => {}
            }
        }
        Mutation::AddKey(k) => {
            if let Some(Value::Mapping(m)) = node_mut(v, path) {
                m.insert(Value::from(k.clone()), Value::from(1));
            }
        }
    }
}

/// Loading never panics; what loads also renders, and the rendered YAML parses.
fn load_and_render(text: &str) {
    match load_str(text, Path::new("p.yaml")) {
        Ok(l) => {
            let r = render(&l.plan).expect("a valid policy renders");
            for f in &r.files {
                if f.path.extension().is_some_and(|e| e == "yaml") {
                    serde_yaml::from_str::<Value>(&f.contents).expect("rendered YAML parses");
                }
            }
        }
        Err(LoadError::Invalid(d)) => assert!(!d.is_empty()),
        Err(e) => panic!("unexpected {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        load_and_render(&text);
    }

    #[test]
    fn arbitrary_yaml_shapes_never_panic(text in prop::collection::vec(prop_oneof![
        Just("version: 1\n"), Just("name: x\n"), Just("baselines:\n"), Just("  - "), Just("rings: [\n"),
        Just("{ "), Just("}"), Just("&a x\n"), Just("*a\n"), Just("- *a\n"), Just(": "), Just("? "),
        Just("!!binary aGk=\n"), Just("organization:\n  regions:\n    us-east-1: "), Just("\t"),
    ], 0..30).prop_map(|v| v.concat())) {
        load_and_render(&text);
    }

    #[test]
    fn mutated_policies_never_panic(picks in prop::collection::vec((any::<prop::sample::Index>(), mutation()), 1..4)) {
        let mut v = base_value();
        for (idx, m) in &picks {
            let mut all = Vec::new();
            paths(&v, Vec::new(), &mut all);
            let path = idx.get(&all).clone();
            apply(&mut v, &path, m);
        }
        let text = serde_yaml::to_string(&v).expect("serializes");
        load_and_render(&text);
    }

    /// A hostile string placed in every free-text field either round-trips into the template as the
    /// same literal value, with the template's structure unchanged, or is rejected by validation.
    #[test]
    fn policy_strings_round_trip_or_are_rejected(s in hostile()) {
        let mut v = base_value();
        let b0 = &mut v["baselines"][0];
        b0["description"] = Value::from(s.clone());
        b0["approved_patches"] = Value::Sequence(vec![Value::from(s.clone())]);
        b0["rules"][0]["filters"]["CLASSIFICATION"] = Value::Sequence(vec![Value::from(s.clone())]);
        let text = serde_yaml::to_string(&v).expect("serializes");
        let expected_resources = {
            let l = load_str(BASE, Path::new("base.yaml")).expect("base");
            let t: Value = serde_yaml::from_str(&render(&l.plan).expect("render").files[0].contents).expect("yaml");
            t["Resources"].as_mapping().expect("resources").keys().cloned().collect::<Vec<_>>()
        };
        match load_str(&text, Path::new("p.yaml")) {
            Err(LoadError::Invalid(d)) => {
                // Rejected: the reason names one of the fields we filled.
                prop_assert!(d.iter().any(|d| d.path.starts_with("baselines[0].")), "{d:?}");
            }
            Err(e) => prop_assert!(false, "unexpected {e}"),
            Ok(l) => {
                let r = render(&l.plan).expect("renders");
                let t: Value = serde_yaml::from_str(&r.files[0].contents).expect("template parses");
                let props = &t["Resources"]["BaselineAL2023"]["Properties"];
                prop_assert_eq!(props["Description"].as_str(), Some(s.as_str()));
                prop_assert_eq!(props["ApprovedPatches"][0].as_str(), Some(s.as_str()));
                let filters = props["ApprovalRules"]["PatchRules"][0]["PatchFilterGroup"]["PatchFilters"].as_sequence().expect("filters");
                prop_assert!(filters.iter().any(|f| f["Key"] == "CLASSIFICATION" && f["Values"][0].as_str() == Some(s.as_str())));
                let got: Vec<Value> = t["Resources"].as_mapping().expect("resources").keys().cloned().collect();
                prop_assert_eq!(got, expected_resources);
                // The request JSON pins the same template text by its hash (ADR 023).
                let req: serde_json::Value = serde_json::from_str(&r.files[1].contents).expect("json");
                let hash = patchplane::render::sha256_hex(r.files[0].contents.as_bytes());
                prop_assert_eq!(req["CreateStackSet"]["TemplateSha256"].as_str(), Some(hash.as_str()));
            }
        }
    }

    #[test]
    fn cron_parser_never_panics(text in "cron\\([0-9A-Z#L?*/, -]{0,30}\\)") {
        let _ = Cron::parse(&text);
    }

    /// Printed crons parse back to themselves.
    #[test]
    fn cron_round_trips(m in 0u8..60, h in 0u8..24, dow in 1u8..8, n in 1u8..6) {
        let text = format!("cron({m} {h} ? * {dow}#{n} *)");
        let c = Cron::parse(&text).expect("valid");
        prop_assert_eq!(Cron::parse(c.as_str()).expect("again"), c);
    }
}
