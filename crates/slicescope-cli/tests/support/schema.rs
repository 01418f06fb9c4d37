// Shared by the CLI integration tests (included with `include!`): they check
// the scan result, apply and compare documents against docs/*.schema.json.
//
// A small JSON Schema validator for the keywords our schema uses: type,
// const, enum, pattern (prefix/suffix-free regexes are not needed: only
// `^S[0-9]+$` and the version pattern, checked by hand), properties,
// required, additionalProperties, items, minItems, minimum, maximum, oneOf,
// $ref to #/$defs.
fn validate(schema: &Value, root_schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return validate(&root_schema["$defs"][name], root_schema, v, path, errs);
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = one
            .iter()
            .filter(|s| {
                let mut e = Vec::new();
                validate(s, root_schema, v, path, &mut e);
                e.is_empty()
            })
            .count();
        if ok != 1 {
            errs.push(format!("{path}: matches {ok} of oneOf"));
        }
        return;
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            errs.push(format!("{path}: {v} is not of type {types:?}"));
            return;
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            errs.push(format!("{path}: {v} != const {c}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{path}: {v} not in {e:?}"));
        }
    }
    if let (Some(min), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if x < min {
            errs.push(format!("{path}: {x} < minimum {min}"));
        }
    }
    if let (Some(max), Some(x)) = (schema.get("maximum").and_then(Value::as_f64), v.as_f64()) {
        if x > max {
            errs.push(format!("{path}: {x} > maximum {max}"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errs.push(format!("{path}: missing required '{r}'"));
                }
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, root_schema, val, &format!("{path}.{k}"), errs),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errs.push(format!("{path}: unexpected property '{k}'"))
                    }
                    Some(s @ Value::Object(_)) => {
                        validate(s, root_schema, val, &format!("{path}.{k}"), errs)
                    }
                    _ => {}
                },
            }
        }
    }
    if let Some(arr) = v.as_array() {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if (arr.len() as u64) < min {
                errs.push(format!("{path}: fewer than {min} items"));
            }
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
            if (arr.len() as u64) > max {
                errs.push(format!("{path}: more than {max} items"));
            }
        }
        if let Some(items) = schema.get("items") {
            for (i, x) in arr.iter().enumerate() {
                validate(items, root_schema, x, &format!("{path}[{i}]"), errs);
            }
        }
    }
}


/// Every mismatch of `doc` against `docs/NAME` (a JSON Schema).
fn schema_errors(name: &str, doc: &Value) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut errs = Vec::new();
    validate(&schema, &schema, doc, "$", &mut errs);
    errs
}

/// Check `doc` against `docs/NAME` (a JSON Schema), listing every mismatch.
#[allow(dead_code)]
fn assert_schema_valid(name: &str, doc: &Value) {
    let errs = schema_errors(name, doc);
    assert!(
        errs.is_empty(),
        "the JSON does not match {name}:\n{}",
        errs.join("\n")
    );
}

/// The validator must be able to fail on each schema.
#[allow(dead_code)]
fn assert_schema_rejects(name: &str, doc: &Value) {
    assert!(!schema_errors(name, doc).is_empty(), "{name} accepts {doc}");
}
