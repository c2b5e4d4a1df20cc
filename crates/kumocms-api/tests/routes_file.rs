//! The Terraform module reads its route table from `terraform/routes.json`; the Rust
//! router is the source. This fails when the two differ, naming the fix.

#[test]
fn terraform_routes_json_is_what_kumocms_routes_prints() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../terraform/routes.json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}")),
    )
    .unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
    let routed = serde_json::to_value(kumocms_api::ROUTES).expect("routes serialise");
    assert!(
        committed == routed,
        "terraform/routes.json differs from the router's routes; regenerate it with\n  \
         cargo run -q -p kumocms-cli -- routes --json > terraform/routes.json"
    );
}
