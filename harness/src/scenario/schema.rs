//! The JSON Schema of a scenario file (`harness schema`, `scenario.schema.json`), for editors
//! (yaml-language-server): generated from the raw types the loader reads, so it cannot drift
//! from them, then completed from the registries: each step kind and verifier described by
//! its own declaration (`StepKind::DOC`, `Verifier::CHECKS`), definitions named after what
//! they hold (`GaleraStatus`, `ScaleStep`), the keys of `timeouts` and the values of fixed
//! vocabularies (scalable kinds, consistency levels) as enums.

use serde_json::{Map, Value, json};

pub fn schema() -> String {
    let mut schema = schemars::schema_for!(super::raw::RawScenario);
    schema.insert("title".into(), json!("harness scenario"));
    schema.insert(
        "description".into(),
        json!("A deploy -> scale -> fault -> verify scenario for the conformance harness. Values are checked further when the harness validates the file (durations, selectors, manifests, variables)."),
    );
    let mut value = schema.to_value();
    complete(&mut value);
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// `galera.acknowledged_writes` → `GaleraAcknowledgedWrites`.
fn pascal(key: &str) -> String {
    key.split(['.', '_', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn reference(def: &str) -> String {
    format!("#/$defs/{def}")
}

/// Names each definition after the key that holds it, describes the step kinds and
/// verifiers, and adds the fixed vocabularies.
fn complete(root: &mut Value) {
    let Some(defs) = root.get("$defs").and_then(Value::as_object).cloned() else {
        return;
    };
    let mut renames: Vec<(String, String)> = vec![];
    let mut taken: std::collections::BTreeSet<String> = defs.keys().cloned().collect();
    let mut rename = |from: &str, to: String, renames: &mut Vec<(String, String)>| {
        if from == to || renames.iter().any(|(f, _)| f == from) || taken.contains(&to) {
            return;
        }
        taken.insert(to.clone());
        renames.push((from.to_string(), to));
    };
    let target_of = |v: &Value| {
        v.get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .map(str::to_string)
    };
    // Names serde's types gave alike (`Raw`, `Raw2`, …) are generated; `RawTarget` says what it
    // is once its prefix goes.
    let generated = |name: &str| {
        name.strip_prefix("Raw")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
    };
    for name in defs.keys() {
        if let Some(rest) = name.strip_prefix("Raw")
            && !generated(name)
        {
            rename(name, rest.to_string(), &mut renames);
        }
    }
    // Step kinds and verifiers next: their keys are the best names.
    for (holder, suffix, keys) in [
        ("Step", "Step", crate::steps::KINDS),
        ("Verify", "", crate::verify::NAMES),
    ] {
        if let Some(props) = defs
            .get(holder)
            .and_then(|d| d.get("properties"))
            .and_then(Value::as_object)
        {
            for (key, v) in props.iter().filter(|(k, _)| keys.contains(&k.as_str())) {
                if let Some(def) = target_of(v).filter(|d| generated(d)) {
                    rename(&def, format!("{}{suffix}", pascal(key)), &mut renames);
                }
            }
        }
    }
    // Then every remaining generated name after its holder and key, until none is left.
    for _ in 0..8 {
        let current = |name: &str, renames: &[(String, String)]| {
            renames
                .iter()
                .find(|(f, _)| f == name)
                .map_or(name.to_string(), |(_, t)| t.clone())
        };
        let mut found = vec![];
        for (holder, def) in &defs {
            let holder_name = current(holder, &renames);
            if generated(&holder_name) {
                continue;
            }
            let mut walk = vec![(String::new(), def)];
            while let Some((key, v)) = walk.pop() {
                if let Some(target) = target_of(v)
                    && generated(&current(&target, &renames))
                    && !key.is_empty()
                {
                    found.push((target, format!("{holder_name}{}", pascal(&key))));
                }
                match v {
                    Value::Object(map) => {
                        for (k, child) in map {
                            let key = if matches!(
                                k.as_str(),
                                "properties"
                                    | "items"
                                    | "anyOf"
                                    | "oneOf"
                                    | "allOf"
                                    | "additionalProperties"
                            ) {
                                key.clone()
                            } else {
                                k.clone()
                            };
                            walk.push((key, child));
                        }
                    }
                    Value::Array(items) => walk.extend(items.iter().map(|i| (key.clone(), i))),
                    _ => {}
                }
            }
        }
        if found.is_empty() {
            break;
        }
        for (from, to) in found {
            rename(&from, to, &mut renames);
        }
    }
    apply_renames(root, &renames);
    describe(root);
}

fn apply_renames(root: &mut Value, renames: &[(String, String)]) {
    if let Some(defs) = root.get_mut("$defs").and_then(Value::as_object_mut) {
        let old: Map<String, Value> = std::mem::take(defs);
        for (name, def) in old {
            let name = renames
                .iter()
                .find(|(f, _)| *f == name)
                .map_or(name, |(_, t)| t.clone());
            defs.insert(name, def);
        }
    }
    fn walk(v: &mut Value, renames: &[(String, String)]) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get_mut("$ref")
                    && let Some(def) = r.strip_prefix("#/$defs/")
                    && let Some((_, to)) = renames.iter().find(|(f, _)| f == def)
                {
                    *r = reference(to);
                }
                map.values_mut().for_each(|c| walk(c, renames));
            }
            Value::Array(items) => items.iter_mut().for_each(|c| walk(c, renames)),
            _ => {}
        }
    }
    walk(root, renames);
}

/// Descriptions of the step kinds and verifiers, `timeouts`' keys, and enums.
fn describe(root: &mut Value) {
    let set_description = |v: &mut Value, text: &str| {
        if let Some(map) = v.as_object_mut() {
            map.entry("description").or_insert_with(|| json!(text));
            // A `$ref` beside a description keeps both in draft 2020-12.
        }
    };
    if let Some(props) = root
        .pointer_mut("/$defs/Step/properties")
        .and_then(Value::as_object_mut)
    {
        for (kind, doc) in crate::steps::KIND_DOCS {
            if let Some(v) = props.get_mut(*kind) {
                set_description(v, doc);
            }
        }
    }
    if let Some(props) = root
        .pointer_mut("/$defs/Verify/properties")
        .and_then(Value::as_object_mut)
    {
        for (name, checks) in crate::verify::DOCS {
            if let Some(v) = props.get_mut(*name) {
                set_description(v, &format!("Checks {checks}"));
            }
        }
    }
    if let Some(timeouts) = root
        .pointer_mut("/properties/timeouts")
        .and_then(Value::as_object_mut)
    {
        let mut keys = vec!["scenario".to_string(), "step".to_string()];
        keys.extend(crate::steps::KINDS.iter().map(|k| k.to_string()));
        timeouts.insert("propertyNames".into(), json!({ "enum": keys }));
        timeouts.insert(
            "description".into(),
            json!("`scenario`: the whole run of steps; `step`: every step kind's default; a step kind's key: that kind's default. Durations such as `90s` or `5m`."),
        );
    }
    let scalable: Vec<&str> = crate::cluster::ScalableKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    if let Some(kind) = root
        .pointer_mut("/$defs/ScaleStep/properties/kind")
        .and_then(Value::as_object_mut)
    {
        kind.insert("enum".into(), json!(scalable));
    }
    if let Some(kind) = root
        .pointer_mut("/$defs/FaultStep/oneOf")
        .and_then(Value::as_array_mut)
    {
        for variant in kind {
            if let Some(k) = variant
                .pointer_mut("/properties/scale_to_zero_and_back/properties/kind")
                .and_then(Value::as_object_mut)
            {
                k.insert("enum".into(), json!(scalable));
            }
        }
    }
    let levels = crate::verify::cassandra::cql::LEVELS;
    fn each_property(v: &mut Value, name: &str, f: &mut dyn FnMut(&mut Map<String, Value>)) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get_mut("properties")
                    && let Some(Value::Object(p)) = props.get_mut(name)
                {
                    f(p);
                }
                map.values_mut().for_each(|c| each_property(c, name, f));
            }
            Value::Array(items) => items.iter_mut().for_each(|c| each_property(c, name, f)),
            _ => {}
        }
    }
    // A transaction workload's promise: a consistency model and anomaly names; every other
    // `consistency` is a CQL level.
    if let Some(promise) = root
        .pointer_mut("/$defs/Promise/properties")
        .and_then(Value::as_object_mut)
    {
        let models: Vec<&str> = crate::verify::anomaly::Model::ALL
            .iter()
            .map(|m| m.name())
            .collect();
        let kinds: Vec<&str> = crate::verify::anomaly::Kind::ALL
            .iter()
            .map(|k| k.name())
            .collect();
        if let Some(Value::Object(c)) = promise.get_mut("consistency") {
            c.insert("enum".into(), json!(models));
        }
        if let Some(Value::Object(items)) =
            promise.get_mut("allow").and_then(|a| a.get_mut("items"))
        {
            items.insert("enum".into(), json!(kinds));
        }
    }
    each_property(root, "consistency", &mut |p| {
        p.entry("enum").or_insert_with(|| json!(levels));
    });
}
