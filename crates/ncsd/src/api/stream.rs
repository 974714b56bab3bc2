//! `GET /v1/stream`: Server-Sent Events of every stored event, every session change and every
//! lifecycle event.
//!
//! Replay and live feed are one loop over the store: the connection keeps a cursor, reads what
//! was committed after it, and sleeps until the store says something new was committed. So a
//! client resuming with `Last-Event-ID` gets exactly what came after, with no gap or repeat.
//!
//! Message ids: the event stored at cursor `n` is sent with `id: 2n`, and the state of its
//! session right after it with `id: 2n+1`. A lifecycle event is placed after the event that was
//! newest when it was recorded (its `placement` `m`), following that event's session message,
//! with `id: 2m+1:k` (`k` its lifecycle cursor). Placements only grow with `k`, so every
//! connection sees the same order, and every message can be resumed from.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;

use super::lifecycle::record_json;
use super::sessions::answer;
use super::view::event_json;
use super::{params, AppState};
use crate::error::{ApiError, ApiResult};
use crate::store::{EventQuery, LifecycleQuery, LifecycleRecord, StoreResult};

const PAGE: i64 = 256;
/// Lifecycle events read at once (they are far fewer than events).
const LIFECYCLE_PAGE: i64 = 1024;
/// Even without a wake-up, look again this often (covers a missed notification).
const POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Same as the `Last-Event-ID` header, for clients that cannot set headers.
    #[param(pattern = r"^[0-9]{1,18}(:[0-9]{1,18})?$", nullable = false)]
    pub last_event_id: Option<String>,
    /// Only this Agora project's events, sessions and lifecycle events (the ids stay those of
    /// the whole stream, so resuming works the same).
    pub project: Option<String>,
}

/// Where a connection stands: after event `seq` (its session message still owed when
/// `session_pending`), and after lifecycle event `lifecycle` among those placed at `placement`
/// or later.
struct Position {
    seq: i64,
    session_pending: bool,
    placement: i64,
    lifecycle: i64,
}

fn parse_id(s: &str) -> Option<Position> {
    let s = s.trim();
    let (msg, lifecycle) = match s.split_once(':') {
        Some((m, k)) => (m.parse::<u64>().ok()?, Some(k.parse::<i64>().ok()?)),
        None => (s.parse::<u64>().ok()?, None),
    };
    let seq = (msg / 2) as i64;
    Some(Position {
        seq,
        // `2m:k` is never sent; read like `2m+1:k`.
        session_pending: msg % 2 == 0 && lifecycle.is_none(),
        placement: seq,
        lifecycle: lifecycle.unwrap_or(0),
    })
}

/// Server-Sent Events: `event` messages (id 2n), `session` messages (id 2n+1) and `lifecycle`
/// messages (id 2m+1:k).
#[utoipa::path(get, path = "/v1/stream", params(StreamParams), tag = "stream",
    params(("Last-Event-ID" = Option<String>, Header, nullable = false, description = "Resume after this message id", pattern = r"^[0-9]{1,18}(:[0-9]{1,18})?$")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream", body = Object),
              (status = 400, description = "Bad Last-Event-ID", body = crate::error::ErrorBody)))]
pub async fn stream(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<StreamParams>, QueryRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let p = params::query(q)?;
    let given = match headers.get("last-event-id") {
        Some(v) => Some(v.to_str().unwrap_or("-").to_string()),
        None => p.last_event_id,
    };
    let project = p.project;
    let other = move |p: &str| project.as_deref().is_some_and(|want| want != p);
    let resume = match given {
        Some(id) => Some(parse_id(&id).ok_or_else(|| {
            ApiError::bad_request(
                "Last-Event-ID must be an id this stream sent (a number, or NUMBER:NUMBER)",
            )
        })?),
        None => None,
    };
    // Subscribe before reading the position, so nothing committed in between is missed.
    let mut wake = st.store.subscribe();
    let mut at = match resume {
        Some(p) => p,
        None => {
            let seq = st.store.latest_seq().await?;
            Position {
                seq,
                session_pending: false,
                placement: seq,
                lifecycle: st.store.latest_lifecycle().await?,
            }
        }
    };
    let store = st.store.clone();
    let shutdown = st.shutdown.clone();
    let app = st.clone();
    let clients = StreamClient::open();
    let stream = async_stream::stream! {
        let _open = clients;
        loop {
            // The session message of the event the client saw last, if it did not get it.
            if at.session_pending {
                at.session_pending = false;
                if let Some(ev) = session_message(&app, at.seq).await {
                    yield Ok(ev);
                }
            }
            let page = store.events(&EventQuery { after: at.seq, limit: PAGE, ..Default::default() }).await;
            let mut page = match page {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "stream could not read the store; retrying");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            let mut full = page.len() as i64 == PAGE;
            let up_to = page.last().map_or(at.seq, |e| e.seq);
            let rows = store.lifecycle(&LifecycleQuery {
                after_seq: at.lifecycle,
                after_placement: at.placement,
                up_to_placement: Some(up_to),
                limit: LIFECYCLE_PAGE,
                ..Default::default()
            }).await;
            let rows = match rows {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "stream could not read the store; retrying");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            if rows.len() as i64 == LIFECYCLE_PAGE {
                // More may be placed before the rest of the page: stop the page at the last.
                let last = rows.last().map_or(at.seq, |r| r.placement);
                page.retain(|e| e.seq <= last);
                full = true;
            }
            let mut rows = rows.into_iter().peekable();
            for e in page {
                while let Some(r) = rows.next_if(|r| r.placement < e.seq) {
                    if !other(&r.project) {
                        yield Ok(lifecycle_message(&r));
                    }
                    (at.placement, at.lifecycle) = (r.placement, r.seq);
                }
                at.seq = e.seq;
                if other(&e.project) {
                    continue;
                }
                yield Ok(Event::default().id((e.seq * 2).to_string()).event("event").data(event_json(&e).to_string()));
                if let (Some(sid), 3) = (&e.sid, e.product_id) {
                    if let Ok(Some(s)) = answer(&app, sid).await {
                        yield Ok(Event::default().id((e.seq * 2 + 1).to_string()).event("session").data(String::from_utf8_lossy(&s)));
                    }
                }
            }
            for r in rows {
                if !other(&r.project) {
                    yield Ok(lifecycle_message(&r));
                }
                (at.placement, at.lifecycle) = (r.placement, r.seq);
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

/// Counts an open stream in `ncsd_stream_clients` for as long as it lives.
struct StreamClient;

impl StreamClient {
    fn open() -> Self {
        metrics::gauge!("ncsd_stream_clients").increment(1.0);
        StreamClient
    }
}

impl Drop for StreamClient {
    fn drop(&mut self) {
        metrics::gauge!("ncsd_stream_clients").decrement(1.0);
    }
}

fn lifecycle_message(r: &LifecycleRecord) -> Event {
    Event::default()
        .id(format!("{}:{}", r.placement * 2 + 1, r.seq))
        .event("lifecycle")
        .data(record_json(r).to_string())
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
    let s = answer(st, sid).await.ok()??;
    Some(
        Event::default()
            .id((seq * 2 + 1).to_string())
            .event("session")
            .data(String::from_utf8_lossy(&s)),
    )
}
