//! Where one destination's messages go: a webhook or a message bus, one `send` for all.

use super::buses::{Nats, Rabbit, Redis};
use super::config::{DestinationConfig, Kind};
use super::webhook::{Sent, Webhook};

pub enum Sink {
    Webhook(Webhook),
    Nats(Nats),
    Rabbit(Rabbit),
    Redis(Redis),
}

impl Sink {
    pub fn new(d: &DestinationConfig) -> Result<Self, String> {
        Ok(match d.kind {
            Kind::Webhook => Sink::Webhook(Webhook::new(d)?),
            Kind::Nats => Sink::Nats(Nats::new(d)?),
            Kind::Rabbitmq => Sink::Rabbit(Rabbit::new(d)?),
            Kind::Redis => Sink::Redis(Redis::new(d)?),
        })
    }

    /// One attempt; a bus has no HTTP status, so only its error (or none) counts.
    pub async fn send(&self, id: &str, body: &str) -> Sent {
        match self {
            Sink::Webhook(w) => w.send(id, body).await,
            Sink::Nats(n) => n.send(id, body).await,
            Sink::Rabbit(r) => r.send(id, body).await,
            Sink::Redis(r) => r.send(id, body).await,
        }
    }
}
