//! One signed POST, as NCS sends it: used by the simulator and by `ncsd send`.

use agora_ncs::Secret;
use anyhow::Context;

/// POST one body signed with both NCS headers; returns the status and response text.
pub async fn post_signed(
    client: &reqwest::Client,
    url: &str,
    secret: &Secret,
    body: Vec<u8>,
) -> anyhow::Result<(u16, String)> {
    use agora_ncs::{sign, Algorithm, HEADER_V1, HEADER_V2};
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .header(HEADER_V1, sign(Algorithm::Sha1, secret, &body))
        .header(HEADER_V2, sign(Algorithm::Sha256, secret, &body))
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot POST to {url}"))?;
    let status = res.status().as_u16();
    Ok((status, res.text().await.unwrap_or_default()))
}
