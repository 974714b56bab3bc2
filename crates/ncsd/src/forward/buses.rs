//! Message buses as destinations: NATS JetStream, RabbitMQ and Redis Streams, through their
//! well-kept client crates. ncsd publishes into what the user has set up and declares nothing:
//! publishing where nothing listens (no stream for the subject, no such exchange, no queue bound
//! to the routing key) is a failed attempt, retried and shown like any other. A connection is
//! made when first needed and made again after an error.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::config::DestinationConfig;
use super::webhook::Sent;

/// `{type}`, `{sid}` and `{cname}` of a message in a subject, routing key or stream name.
pub fn expand(template: &str, body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let field = |k: &str| {
        v["data"][k]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| "none".into())
    };
    template
        .replace("{type}", v["type"].as_str().unwrap_or("unknown"))
        .replace("{sid}", &field("sid"))
        .replace("{cname}", &field("cname"))
}

fn failed(error: String, started: Instant) -> Sent {
    Sent {
        status: None,
        error: Some(error),
        retry_after: None,
        latency: started.elapsed(),
    }
}

fn delivered(started: Instant) -> Sent {
    Sent {
        status: None,
        error: None,
        retry_after: None,
        latency: started.elapsed(),
    }
}

/// Run one publish with the destination's timeout; an error drops the connection so the next
/// attempt makes a new one.
async fn attempt<C, F, Fut>(
    slot: &Mutex<Option<C>>,
    timeout: Duration,
    connect: impl std::future::Future<Output = Result<C, String>>,
    publish: F,
) -> Sent
where
    C: Clone,
    F: FnOnce(C) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let work = async {
        let conn = {
            let mut guard = slot.lock().await;
            match guard.as_ref() {
                Some(c) => c.clone(),
                None => {
                    let c = connect.await?;
                    *guard = Some(c.clone());
                    c
                }
            }
        };
        publish(conn).await
    };
    let result = match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {timeout:?}")),
    };
    match result {
        Ok(()) => delivered(started),
        Err(e) => {
            slot.lock().await.take();
            failed(e, started)
        }
    }
}

/// JetStream: publish to the subject (default `ncsd.{type}`) with `Nats-Msg-Id` set to the
/// message id (JetStream's own deduplication); success is the stream's acknowledgement.
pub struct Nats {
    url: String,
    subject: String,
    timeout: Duration,
    js: Mutex<Option<async_nats::jetstream::Context>>,
}

impl Nats {
    pub fn new(d: &DestinationConfig) -> Result<Self, String> {
        Ok(Nats {
            url: d.url.clone().unwrap_or_default(),
            subject: d.subject.clone().unwrap_or_else(|| "ncsd.{type}".into()),
            timeout: d.timeout()?,
            js: Mutex::new(None),
        })
    }

    pub async fn send(&self, id: &str, body: &str) -> Sent {
        let subject = expand(&self.subject, body);
        let url = self.url.clone();
        let connect = async move {
            let client = async_nats::connect(url.as_str())
                .await
                .map_err(|e| format!("cannot connect to NATS at {url}: {e}"))?;
            Ok(async_nats::jetstream::new(client))
        };
        let payload = bytes::Bytes::from(body.to_string());
        let id = id.to_string();
        attempt(&self.js, self.timeout, connect, |js| async move {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            let ack = js
                .publish_with_headers(subject.clone(), headers, payload)
                .await
                .map_err(|e| format!("JetStream publish to {subject}: {e}"))?;
            ack.await
                .map(drop)
                .map_err(|e| format!("JetStream did not acknowledge {subject}: {e}"))
        })
        .await
    }
}

/// RabbitMQ: publish to the exchange with the routing key, persistent, `message_id` set, with
/// publisher confirms and `mandatory` (a message no queue takes comes back: a failure).
pub struct Rabbit {
    url: String,
    exchange: String,
    routing_key: String,
    timeout: Duration,
    channel: Mutex<Option<lapin::Channel>>,
}

impl Rabbit {
    pub fn new(d: &DestinationConfig) -> Result<Self, String> {
        Ok(Rabbit {
            url: d.url.clone().unwrap_or_default(),
            exchange: d.exchange.clone().unwrap_or_default(),
            routing_key: d
                .routing_key
                .clone()
                .unwrap_or_else(|| "ncsd.{type}".into()),
            timeout: d.timeout()?,
            channel: Mutex::new(None),
        })
    }

    pub async fn send(&self, id: &str, body: &str) -> Sent {
        use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
        use lapin::publisher_confirm::Confirmation;
        let routing_key = expand(&self.routing_key, body);
        let url = self.url.clone();
        let connect = async move {
            let props = lapin::ConnectionProperties::default()
                .with_executor(tokio_executor_trait::Tokio::current())
                .with_reactor(tokio_reactor_trait::Tokio);
            let conn = lapin::Connection::connect(&url, props)
                .await
                .map_err(|e| format!("cannot connect to RabbitMQ: {e}"))?;
            let ch = conn
                .create_channel()
                .await
                .map_err(|e| format!("cannot open a RabbitMQ channel: {e}"))?;
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| format!("RabbitMQ refused publisher confirms: {e}"))?;
            Ok(ch)
        };
        let exchange = self.exchange.clone();
        let (id, payload) = (id.to_string(), body.as_bytes().to_vec());
        attempt(&self.channel, self.timeout, connect, |ch| async move {
            let props = lapin::BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(id.into());
            let opts = BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            };
            let confirm = ch
                .basic_publish(&exchange, &routing_key, opts, &payload, props)
                .await
                .map_err(|e| format!("RabbitMQ publish to {exchange:?}: {e}"))?
                .await
                .map_err(|e| format!("RabbitMQ did not confirm: {e}"))?;
            match confirm {
                Confirmation::Ack(None) => Ok(()),
                Confirmation::Ack(Some(_)) => Err(format!(
                    "RabbitMQ returned the message: no queue is bound to {routing_key:?} on \
                     exchange {exchange:?}"
                )),
                Confirmation::Nack(_) => Err("RabbitMQ refused the message (nack)".into()),
                Confirmation::NotRequested => Err("publisher confirms are off".into()),
            }
        })
        .await
    }
}

/// Redis Streams: `XADD` to the stream (template) with fields `id`, `type` and `body`; with
/// `maxlen`, the stream is trimmed to about that length.
pub struct Redis {
    url: String,
    stream: String,
    maxlen: Option<u64>,
    timeout: Duration,
    conn: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Redis {
    pub fn new(d: &DestinationConfig) -> Result<Self, String> {
        Ok(Redis {
            url: d.url.clone().unwrap_or_default(),
            stream: d.stream.clone().unwrap_or_else(|| "ncsd".into()),
            maxlen: d.maxlen,
            timeout: d.timeout()?,
            conn: Mutex::new(None),
        })
    }

    pub async fn send(&self, id: &str, body: &str) -> Sent {
        let stream = expand(&self.stream, body);
        let url = self.url.clone();
        let connect = async move {
            let client =
                redis::Client::open(url.as_str()).map_err(|e| format!("bad Redis URL: {e}"))?;
            client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| format!("cannot connect to Redis: {e}"))
        };
        let kind = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_string))
            .unwrap_or_default();
        let maxlen = self.maxlen;
        let (id, body) = (id.to_string(), body.to_string());
        attempt(&self.conn, self.timeout, connect, |mut conn| async move {
            let mut cmd = redis::cmd("XADD");
            cmd.arg(&stream);
            if let Some(n) = maxlen {
                cmd.arg("MAXLEN").arg("~").arg(n);
            }
            cmd.arg("*")
                .arg("id")
                .arg(&id)
                .arg("type")
                .arg(&kind)
                .arg("body")
                .arg(&body);
            cmd.query_async::<String>(&mut conn)
                .await
                .map(drop)
                .map_err(|e| format!("Redis XADD to {stream}: {e}"))
        })
        .await
    }
}
