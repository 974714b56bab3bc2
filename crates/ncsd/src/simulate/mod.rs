//! Realistic NCS traffic: `generate` builds Cloud Recording sessions in the order a real recorder
//! reports them (spec §4 "Ordering"); `plan` turns them into deliveries the way NCS misbehaves
//! (resends, redundant copies, shuffling, loss); `deliver` sends them. The same code serves
//! `ncsd simulate`, the end-to-end tests and the benchmarks.

pub mod deliver;
pub mod generate;
pub mod plan;
mod post;

pub use generate::{generate_session, Mode, SimEvent, SimSession};
pub use plan::{plan, Delivery, Faults, Plan};
pub use post::post_signed;
