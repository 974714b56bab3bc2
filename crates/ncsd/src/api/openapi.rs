//! `GET /v1/openapi.json`: the OpenAPI document, generated from the handlers' annotations so it
//! cannot drift from the routes.

use axum::Json;
use utoipa::OpenApi;

pub use crate::error::ErrorBody;

/// NCS delivery (the path is `--path`, `/ncs` by default).
#[utoipa::path(post, path = "/ncs", tag = "ingest",
    request_body(content = Object, description = "The NCS notification, signed with Agora-Signature-V2 and/or Agora-Signature"),
    params(
        ("Agora-Signature-V2" = Option<String>, Header, description = "hex HMAC-SHA256 of the raw body"),
        ("Agora-Signature" = Option<String>, Header, description = "hex HMAC-SHA1 of the raw body"),
    ),
    responses(
        (status = 200, description = "Stored durably (or a duplicate): `{ok, notice_id, duplicate, deliveries, copy_of}`; a signed body that cannot be read is kept in the quarantine: `{ok, quarantined: true, reason, quarantine_id}`", body = Object),
        (status = 401, description = "Missing or wrong signature", body = ErrorBody),
        (status = 413, description = "Body over --max-body", body = ErrorBody),
        (status = 503, description = "Storage unavailable; NCS will resend", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn ingest_doc() {}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Database answers", body = Object),
              (status = 503, description = "Database does not answer", body = Object)))]
#[allow(dead_code)]
fn health_doc() {}

#[derive(OpenApi)]
#[openapi(
    info(title = "ncsd", description = "Durable receiver for Agora Cloud Recording callbacks (NCS)"),
    paths(
        ingest_doc, health_doc,
        super::events::list, super::events::one,
        super::sessions::list, super::sessions::one, super::sessions::events,
        super::quarantine::list, super::lifecycle::list, super::stream::stream,
        super::destinations::list, super::destinations::messages, super::destinations::retry_one,
        super::destinations::retry_failed, super::destinations::replay, super::destinations::enable,
        document,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3 document", body = Object)))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
