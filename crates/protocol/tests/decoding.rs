//! Property tests for decoding what crosses the wire: any JSON, or any text, fed
//! to the job and tool-argument types must give a value or an error, never a
//! panic, and whatever decodes must validate without panicking too. A job that
//! decodes must survive a round trip unchanged (the node API relies on it).

use browserfarm_protocol::{
    BatchScrapeArgs, ClickArgs, EmulateArgs, FillFormArgs, Job, JobOutput, NavigateArgs, Operation,
    PressKeyArgs, ScreenshotArgs, SnapshotArgs, StorageStateArgs, TabsArgs, WaitForArgs,
    check_navigation_url, parse_key_combo,
};
use proptest::prelude::*;
use serde_json::Value;

/// Arbitrary JSON, weighted towards the shapes our types expect (objects with
/// the field names they use), so decoding gets past the first check often.
fn json() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "op",
        "args",
        "url",
        "selector",
        "ref",
        "text",
        "key",
        "values",
        "fields",
        "value",
        "max_chars",
        "page",
        "timeout_ms",
        "action",
        "index",
        "state",
        "cookies",
        "origins",
        "viewport",
        "width",
        "height",
        "device",
        "format",
        "quality",
        "max_width",
        "urls",
        "session",
        "operation",
        "node_tags",
        "priority",
        "expression",
        "submit",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "navigate",
            "snapshot",
            "click",
            "goto",
            "back",
            "new",
            "select",
            "import",
            "http://127.0.0.1/",
            "javascript:alert(1)",
            "e12",
            "Control+a",
            "pixel-7",
            "high",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((names.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn decode_all(value: &Value) {
    if let Ok(op) = serde_json::from_value::<Operation>(value.clone()) {
        let _ = op.validate();
        let back: Operation = serde_json::from_value(serde_json::to_value(&op).unwrap()).unwrap();
        assert_eq!(back, op);
    }
    if let Ok(job) = serde_json::from_value::<Job>(value.clone()) {
        let _ = job.operation.validate();
    }
    let _ = serde_json::from_value::<JobOutput>(value.clone());
    macro_rules! args {
        ($($t:ty),*) => {$(
            let _ = serde_json::from_value::<$t>(value.clone());
        )*};
    }
    args!(
        NavigateArgs,
        ScreenshotArgs,
        ClickArgs,
        SnapshotArgs,
        FillFormArgs,
        PressKeyArgs,
        WaitForArgs,
        TabsArgs,
        StorageStateArgs,
        EmulateArgs,
        BatchScrapeArgs
    );
    if let Ok(a) = serde_json::from_value::<BatchScrapeArgs>(value.clone()) {
        let _ = a.validate(browserfarm_protocol::MAX_BATCH_URLS);
    }
    if let Ok(a) = serde_json::from_value::<WaitForArgs>(value.clone()) {
        let _ = a.condition();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_json_decodes_or_errs(value in json()) {
        decode_all(&value);
        // Wrapped as an operation of each kind, so the argument decoders see it.
        for op in ["navigate", "screenshot", "scrape", "click", "type", "snapshot", "fill_form",
                   "press_key", "wait_for", "tabs", "cookies", "storage_state", "emulate",
                   "select_option", "scroll", "upload_file", "downloads", "pdf"] {
            decode_all(&serde_json::json!({"op": op, "args": value.clone()}));
        }
    }

    #[test]
    fn any_text_decodes_or_errs(text in ".{0,200}") {
        let _ = serde_json::from_str::<Job>(&text);
        let _ = serde_json::from_str::<Operation>(&text);
        let _ = check_navigation_url(&text);
        let _ = parse_key_combo(&text);
    }
}
