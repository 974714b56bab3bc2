//! `GET /v1/stream`: Server-Sent Events of every stored event and every session change.
//!
//! Replay and live feed are one loop over the store: the connection keeps a cursor, reads what
//! was committed after it, and sleeps until the store says something new was committed. So a
//! client resuming with `Last-Event-ID` gets exactly what came after, with no gap or repeat.
//!
//! Message ids: the event stored at cursor `n` is sent with `id: 2n`, and the state of its
//! session right after it with `id: 2n+1`. Ids therefore increase in storage order and every
//! message can be resumed from.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;

use super::sessions::current_json;
use super::view::event_json;
use super::{params, AppState};
use crate::error::{ApiError, ApiResult};
use crate::store::{EventQuery, StoreResult};

const PAGE: i64 = 256;
/// Even without a wake-up, look again this often (covers a missed notification).
const POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Same as the `Last-Event-ID` header, for clients that cannot set headers.
    pub last_event_id: Option<u64>,
}

/// Server-Sent Events: `event` messages (id 2n) and `session` messages (id 2n+1).
#[utoipa::path(get, path = "/v1/stream", params(StreamParams), tag = "stream",
    params(("Last-Event-ID" = Option<u64>, Header, description = "Resume after this message id")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream", body = String),
              (status = 400, description = "Bad Last-Event-ID", body = super::openapi::ErrorBody)))]
pub async fn stream(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<StreamParams>, QueryRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let p = params::query(q)?;
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID must be an id this stream sent (a number)")
                })?,
        ),
        None => p.last_event_id,
    };
    // Subscribe before reading the position, so nothing committed in between is missed.
    let mut wake = st.store.subscribe();
    let (mut after_seq, mut session_pending) = match resume {
        Some(id) => ((id / 2) as i64, id % 2 == 0),
        None => (st.store.latest_seq().await?, false),
    };
    let store = st.store.clone();
    let shutdown = st.shutdown.clone();
    let app = st.clone();
    let stream = async_stream::stream! {
        loop {
            // The session message of the event the client saw last, if it did not get it.
            if session_pending {
                session_pending = false;
                if let Some(ev) = session_message(&app, after_seq).await {
                    yield Ok(ev);
                }
            }
            let page = store.events(&EventQuery { after: after_seq, limit: PAGE, ..Default::default() }).await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "stream could not read the store; retrying");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            let full = page.len() as i64 == PAGE;
            for e in page {
                after_seq = e.seq;
                yield Ok(Event::default().id((e.seq * 2).to_string()).event("event").data(event_json(&e).to_string()));
                if let (Some(sid), 3) = (&e.sid, e.product_id) {
                    if let Ok(Some(s)) = current_json(&app, sid).await {
                        yield Ok(Event::default().id((e.seq * 2 + 1).to_string()).event("session").data(String::from_utf8_lossy(&s)));
                    }
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = wake.recv() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.cancelled() => break,
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The session message belonging to the event at `seq` (when that event is a recording event).
async fn session_message(st: &AppState, seq: i64) -> Option<Event> {
    let page: StoreResult<_> = st
        .store
        .events(&EventQuery {
            after: seq - 1,
            limit: 1,
            ..Default::default()
        })
        .await;
    let e = page.ok()?.into_iter().next().filter(|e| e.seq == seq)?;
    let sid = e.sid.as_ref().filter(|_| e.product_id == 3)?;
    let s = current_json(st, sid).await.ok()??;
    Some(
        Event::default()
            .id((seq * 2 + 1).to_string())
            .event("session")
            .data(String::from_utf8_lossy(&s)),
    )
}
