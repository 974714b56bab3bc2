//! The do-nothing baseline: an axum server that answers every POST with a small JSON 200,
//! doing none of ncsd's work. ncsd's throughput is reported as a ratio of this one's, measured
//! in the same run on the same machine.

use axum::routing::post;
use axum::{Json, Router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".into());
    let app = Router::new().route(
        "/ncs",
        post(|| async { Json(serde_json::json!({"ok": true})) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
