//! Forwarding onto real message buses on their standard loopback ports (`scripts/test` starts
//! them): NATS JetStream, RabbitMQ, Redis Streams. Each test sets up what a user would (a
//! stream, an exchange and a bound queue), lets ncsd publish, and reads back what arrived;
//! publishing where nothing listens fails visibly. `NCSD_SKIP_BUSES=1` skips them on purpose.

mod common;

use std::time::{Duration, Instant};

use common::{cr_body, TestServer};
use futures::StreamExt;
use serde_json::{json, Value};

const NATS: &str = "nats://127.0.0.1:4222";
const AMQP: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const REDIS: &str = "redis://127.0.0.1:6379";

async fn with(destination: &str) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ncsd.toml");
    std::fs::write(&path, format!("[[destination]]\n{destination}\n")).unwrap();
    (
        common::start(&["--config", path.to_str().unwrap()]).await,
        dir,
    )
}

/// Started, stopped and completed of one recording, plus its three NCS events.
async fn deliver(srv: &TestServer, sid: &str) {
    for (i, (t, d)) in [
        (40, json!({"status": 0})),
        (41, json!({"leaveCode": 2})),
        (11, json!({"exitStatus": 0})),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            srv.post(&cr_body(&format!("{sid}-{i}"), sid, t, i as i64, d))
                .await
                .0,
            200
        );
    }
}

fn skip() -> bool {
    std::env::var("NCSD_SKIP_BUSES").is_ok_and(|v| v == "1")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

async fn destination(srv: &TestServer) -> Value {
    srv.get("/v1/destinations").await.1["destinations"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_receives_every_message_once_with_its_id() {
    if skip() {
        return;
    }
    let prefix = unique("ncsdtest");
    let client = async_nats::connect(NATS).await.expect("NATS on 4222");
    let js = async_nats::jetstream::new(client);
    let mut stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: prefix.clone(),
            subjects: vec![format!("{prefix}.>")],
            ..Default::default()
        })
        .await
        .unwrap();
    let (srv, _dir) = with(&format!(
        "name = \"bus\"\nkind = \"nats\"\nurl = \"{NATS}\"\nsubject = \"{prefix}.{{type}}.{{sid}}\"\n\
         events = [\"recording.*\", \"ncs.*\"]\nstart = \"beginning\"\n"
    ))
    .await;
    deliver(&srv, "js1").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let info = stream.info().await.unwrap();
        if info.state.messages >= 6 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} messages",
            info.state.messages
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Replaying everything again publishes the same ids: JetStream keeps one of each.
    let res = srv
        .client
        .post(format!("{}/v1/destinations/bus/replay", srv.base))
        .json(&json!({"since": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stream.info().await.unwrap().state.messages, 6);
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .unwrap();
    let mut msgs = consumer.fetch().max_messages(10).messages().await.unwrap();
    let mut subjects = Vec::new();
    while let Some(Ok(m)) = msgs.next().await {
        let body: Value = serde_json::from_slice(&m.payload).unwrap();
        // The id went out as Nats-Msg-Id: the replay above was deduplicated by it.
        assert!(body["id"].is_string());
        subjects.push(m.subject.to_string());
    }
    assert!(
        subjects.contains(&format!("{prefix}.recording.completed.js1")),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&format!("{prefix}.ncs.40.js1")),
        "{subjects:?}"
    );
    js.delete_stream(&prefix).await.unwrap();
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_no_stream_takes_is_a_failed_attempt() {
    if skip() {
        return;
    }
    let prefix = unique("nowhere");
    let (srv, _dir) = with(&format!(
        "name = \"bus\"\nkind = \"nats\"\nurl = \"{NATS}\"\nsubject = \"{prefix}.{{type}}\"\n\
         events = [\"ncs.*\"]\nstart = \"beginning\"\nretry = []\ntimeout = \"2s\"\n"
    ))
    .await;
    srv.post(&cr_body("nw-1", "nw", 40, 0, json!({}))).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while destination(&srv).await["failed"] != 1 {
        assert!(Instant::now() < deadline, "{}", destination(&srv).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(destination(&srv).await["last_error"].is_string());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_receives_persistent_messages_with_their_ids() {
    if skip() {
        return;
    }
    use lapin::options::*;
    use lapin::types::FieldTable;
    let exchange = unique("ncsd-x-");
    let queue = unique("ncsd-q-");
    let props = lapin::ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    let conn = lapin::Connection::connect(AMQP, props)
        .await
        .expect("RabbitMQ on 5672");
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        &exchange,
        lapin::ExchangeKind::Topic,
        ExchangeDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_declare(
        &queue,
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        &queue,
        &exchange,
        "recording.#",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let (srv, _dir) = with(&format!(
        "name = \"bus\"\nkind = \"rabbitmq\"\nurl = \"{AMQP}\"\nexchange = \"{exchange}\"\n\
         routing_key = \"{{type}}\"\nevents = [\"recording.*\", \"ncs.40\"]\nstart = \"beginning\"\n\
         retry = []\n"
    ))
    .await;
    deliver(&srv, "rb1").await;
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while got.len() < 3 {
        assert!(Instant::now() < deadline, "{got:?}");
        match ch
            .basic_get(&queue, BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            Some(m) => {
                let body: Value = serde_json::from_slice(&m.delivery.data).unwrap();
                assert_eq!(
                    m.delivery
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|s| s.to_string()),
                    body["id"].as_str().map(str::to_string)
                );
                assert_eq!(*m.delivery.properties.delivery_mode(), Some(2));
                got.push(body["type"].as_str().unwrap().to_string());
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    got.sort();
    assert_eq!(
        got,
        [
            "recording.completed",
            "recording.started",
            "recording.stopped"
        ]
    );
    // ncs.40 goes to routing key "ncs.40", which no queue is bound to: returned, failed.
    let deadline = Instant::now() + Duration::from_secs(15);
    while destination(&srv).await["failed"] != 1 {
        assert!(Instant::now() < deadline, "{}", destination(&srv).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = destination(&srv).await["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(last.contains("no queue is bound"), "{last}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_streams_receive_id_type_and_body() {
    if skip() {
        return;
    }
    let stream = unique("ncsd-stream-");
    let (srv, _dir) = with(&format!(
        "name = \"bus\"\nkind = \"redis\"\nurl = \"{REDIS}\"\nstream = \"{stream}\"\nmaxlen = 1000\n\
         events = [\"recording.*\"]\nstart = \"beginning\"\n"
    ))
    .await;
    deliver(&srv, "rd1").await;
    let client = redis::Client::open(REDIS).unwrap();
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis on 6379");
    let deadline = Instant::now() + Duration::from_secs(15);
    let entries: Vec<(String, Vec<(String, String)>)> = loop {
        let v: redis::Value = redis::cmd("XRANGE")
            .arg(&stream)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        let parsed: Vec<(String, Vec<(String, String)>)> = redis::from_redis_value(&v).unwrap();
        if parsed.len() >= 3 {
            break parsed;
        }
        assert!(Instant::now() < deadline, "{parsed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut types = Vec::new();
    for (_, fields) in &entries {
        let f: std::collections::HashMap<&str, &str> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body: Value = serde_json::from_str(f["body"]).unwrap();
        assert_eq!(body["id"], f["id"]);
        assert_eq!(body["type"], f["type"]);
        types.push(f["type"].to_string());
    }
    types.sort();
    assert_eq!(
        types,
        [
            "recording.completed",
            "recording.started",
            "recording.stopped"
        ]
    );
    let _: () = redis::cmd("DEL")
        .arg(&stream)
        .query_async(&mut conn)
        .await
        .unwrap();
    srv.stop().await;
}
