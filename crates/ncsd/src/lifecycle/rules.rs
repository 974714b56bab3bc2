//! Which lifecycle events one event causes, given what its session showed before it. Pure: the
//! same history in the same commit order gives the same events, on any instance, after any
//! restart.

use crate::store::Evidence;
use crate::summary::{exit_key, phase, Phase, FATAL_ERROR, NO_EXIT};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Started,
    Stopped,
    Completed,
    Failed,
    FatalError,
    Stalled,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Started,
        Kind::Stopped,
        Kind::Completed,
        Kind::Failed,
        Kind::FatalError,
        Kind::Stalled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Started => "recording.started",
            Kind::Stopped => "recording.stopped",
            Kind::Completed => "recording.completed",
            Kind::Failed => "recording.failed",
            Kind::FatalError => "recording.fatal_error",
            Kind::Stalled => "recording.stalled",
        }
    }

    /// The event recorded on entering `phase` (none for `starting`, which nothing enters).
    pub fn entering(phase: Phase) -> Option<Kind> {
        match phase {
            Phase::Starting => None,
            Phase::Recording => Some(Kind::Started),
            Phase::Uploading => Some(Kind::Stopped),
            Phase::Completed => Some(Kind::Completed),
            Phase::Failed => Some(Kind::Failed),
        }
    }
}

/// One lifecycle event an event caused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub kind: Kind,
    pub previous_phase: Phase,
    pub phase: Phase,
}

/// The merged evidence of a session so far: bits OR-ed, exits merged with max (as the summary
/// row keeps them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merged {
    pub flags: i64,
    pub exit_key: i64,
}

impl Default for Merged {
    fn default() -> Self {
        Merged {
            flags: 0,
            exit_key: NO_EXIT,
        }
    }
}

impl Merged {
    pub fn phase(self) -> Phase {
        phase(self.flags, self.exit_key)
    }

    pub fn with(self, e: &Evidence) -> Merged {
        Merged {
            flags: self.flags | e.session_flags,
            exit_key: self
                .exit_key
                .max(exit_key(e.event_type, e.sequence, e.session_flags)),
        }
    }
}

/// What `event` records when the session's evidence before it was `before`. Entering a phase
/// records its event; phases never move backwards, but later evidence can move one terminal
/// phase to the other, which records the second one too. The first fatal error records one.
pub fn transitions(before: Merged, event: &Evidence) -> Vec<Transition> {
    let after = before.with(event);
    let (was, is) = (before.phase(), after.phase());
    let mut out = Vec::new();
    let forward = is.rank() > was.rank() || (was.is_terminal() && is.is_terminal() && is != was);
    if forward {
        if let Some(kind) = Kind::entering(is) {
            out.push(Transition {
                kind,
                previous_phase: was,
                phase: is,
            });
        }
    }
    if event.session_flags & FATAL_ERROR != 0 && before.flags & FATAL_ERROR == 0 {
        out.push(Transition {
            kind: Kind::FatalError,
            previous_phase: was,
            phase: is,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{flags_for, EXIT_FAILED, EXIT_OK, RECORDING, UPLOADED, UPLOADING};

    fn ev(seq: i64, event_type: i64, sequence: i64, flags: i64) -> Evidence {
        Evidence {
            seq,
            notice_id: format!("n{seq}"),
            product_id: 3,
            event_type,
            sid: Some("s".into()),
            cname: None,
            uid: None,
            sequence: Some(sequence),
            session_flags: flags,
        }
    }

    /// Every lifecycle kind the events record, in commit order.
    fn recorded(events: &[Evidence]) -> Vec<&'static str> {
        let mut merged = Merged::default();
        let mut out = Vec::new();
        for e in events {
            out.extend(transitions(merged, e).into_iter().map(|t| t.kind.as_str()));
            merged = merged.with(e);
        }
        out
    }

    #[test]
    fn each_phase_entered_records_its_event() {
        let events = [
            ev(1, 40, 0, RECORDING),
            ev(2, 42, 1, RECORDING),
            ev(3, 41, 2, UPLOADING),
            ev(4, 11, 3, EXIT_OK),
            ev(5, 31, 4, UPLOADED),
        ];
        assert_eq!(
            recorded(&events),
            [
                "recording.started",
                "recording.stopped",
                "recording.completed"
            ]
        );
    }

    #[test]
    fn an_exit_arriving_first_records_completed_alone() {
        let events = [
            ev(1, 11, 9, EXIT_OK),
            ev(2, 40, 0, RECORDING),
            ev(3, 41, 5, UPLOADING),
        ];
        assert_eq!(recorded(&events), ["recording.completed"]);
    }

    #[test]
    fn later_evidence_moving_to_the_other_terminal_phase_records_it_too() {
        // Completed by the upload report, then an exit 1: failed (the exit decides).
        let events = [ev(1, 31, 4, UPLOADED), ev(2, 11, 5, EXIT_FAILED)];
        assert_eq!(
            recorded(&events),
            ["recording.completed", "recording.failed"]
        );
    }

    #[test]
    fn the_first_fatal_error_records_one_and_is_not_terminal() {
        let fatal = flags_for(&agora_ncs::RecordingEvent::parse(
            1,
            &serde_json::json!({"errorLevel": 5}),
        ));
        let events = [
            ev(1, 40, 0, RECORDING),
            ev(2, 1, 1, fatal),
            ev(3, 1, 2, fatal),
        ];
        assert_eq!(
            recorded(&events),
            ["recording.started", "recording.fatal_error"]
        );
    }
}
