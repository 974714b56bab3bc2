//! Stored data derived by the session rules (each event's phase bits, each session's merged bits
//! and exits, the kept answers) is derived again when the rules change, at start-up, in one
//! transaction: nothing made by older rules is served after an upgrade.

use rusqlite::{params, Connection, OptionalExtension};

use crate::summary::{derive, RULES_VERSION};

const KEY: &str = "rules_version";

pub(super) fn if_rules_changed(conn: &mut Connection) -> rusqlite::Result<()> {
    let stored: Option<String> = conn
        .query_row("SELECT v FROM meta WHERE k = ?1", [KEY], |r| r.get(0))
        .optional()?;
    let stored: i64 = stored.and_then(|v| v.parse().ok()).unwrap_or(1);
    if stored == RULES_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    let empty: bool = tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM events)", [], |r| r.get(0))?;
    if !empty {
        tracing::info!(
            from = stored,
            to = RULES_VERSION,
            "deriving every recording's phase again with the current rules"
        );
        rederive(&tx)?;
    }
    tx.execute(
        "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        params![KEY, RULES_VERSION.to_string()],
    )?;
    tx.commit()
}

fn rederive(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    // Bits of every Cloud Recording event, then each session's merge, in sid order so one pass
    // over the (sid, sequence) index does it.
    let mut read = tx.prepare(
        "SELECT seq, sid, body FROM events WHERE sid IS NOT NULL AND product_id = 3 \
         ORDER BY sid",
    )?;
    let mut set_bits = tx.prepare("UPDATE events SET session_flags = ?1 WHERE seq = ?2")?;
    let mut set_session =
        tx.prepare("UPDATE sessions SET flags = ?1, exit_key = ?2 WHERE sid = ?3")?;
    let mut rows = read.query([])?;
    let mut current: Option<(String, i64, i64)> = None;
    while let Some(r) = rows.next()? {
        let (seq, sid, body): (i64, String, Vec<u8>) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let (flags, exit) = derive(&body);
        set_bits.execute(params![flags, seq])?;
        match &mut current {
            Some((s, f, k)) if *s == sid => {
                *f |= flags;
                *k = (*k).max(exit);
            }
            _ => {
                if let Some((s, f, k)) = current.take() {
                    set_session.execute(params![f, k, s])?;
                }
                current = Some((sid, flags, exit));
            }
        }
    }
    if let Some((s, f, k)) = current {
        set_session.execute(params![f, k, s])?;
    }
    // Answers folded by other rules.
    tx.execute("DELETE FROM session_states", [])?;
    Ok(())
}
