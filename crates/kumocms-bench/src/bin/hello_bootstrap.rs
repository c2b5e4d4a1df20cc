//! The cold-start floor: a Lambda function that answers every event with a fixed JSON
//! body, on the same `lambda_runtime` and tokio as `bootstrap`, built with the same
//! profile. Whatever `bootstrap` takes beyond this is KumoCMS's own start-up.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"hello": "world"}))
    }))
    .await
}
