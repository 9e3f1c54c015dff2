//! One reader slot as pcscd sees it through the driver, without IO: what the presence call
//! reports, the card's arrivals and departures queued until pcscd's event loop has shown each
//! one (a tap shorter than a pass of that loop is still two events), the latched stop request
//! of the polling function, and the one command waiting for its answer.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A change of presence not yet shown to pcscd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edge {
    /// A card arrived, with its ATR.
    Arrived(Vec<u8>),
    /// The card left.
    Left,
}

/// How a command sent to the card ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Its answer.
    Answer(Vec<u8>),
    /// No card (pcscd was told so, or is about to be).
    NoCard,
    /// The card left, or kazasu went away, before answering.
    Lost,
    /// No answer in time.
    TimedOut,
    /// kazasu's reader model failed the request itself (a [`crate::link`] fault code).
    Fault(u8),
}

#[derive(Debug, Default)]
struct State {
    /// What the presence call reports: the last edge shown.
    shown: bool,
    /// The ATR of the card shown present.
    atr: Vec<u8>,
    /// Edges not yet shown, oldest first.
    edges: VecDeque<Edge>,
    /// Whether a card is attached now (its link is open), whatever pcscd has been shown.
    attached: bool,
    /// pcscd asked the polling function to return; kept until it does.
    stop: bool,
    /// A command is waiting for its answer (numbered, so a late answer to an earlier one that
    /// timed out is not taken for this one's).
    waiting: Option<u64>,
    /// The answer that came for it, or the reader's fault.
    answer: Option<(u64, Result<Vec<u8>, u8>)>,
    /// Commands sent so far.
    sent: u64,
}

/// A slot shared by pcscd's threads and the thread that talks to kazasu.
#[derive(Debug, Default)]
pub struct Slot {
    state: Mutex<State>,
    changed: Condvar,
}

impl Slot {
    fn state(&self) -> MutexGuard<'_, State> {
        // A thread that panicked while holding the lock left consistent data (every change is
        // one assignment): go on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A card arrived with `atr`.
    pub fn arrive(&self, atr: Vec<u8>) {
        let mut s = self.state();
        s.attached = true;
        s.edges.push_back(Edge::Arrived(atr));
        self.changed.notify_all();
    }

    /// The card left (its link closed): a command waiting for it fails at once.
    pub fn leave(&self) {
        let mut s = self.state();
        if !s.attached {
            return;
        }
        s.attached = false;
        s.edges.push_back(Edge::Left);
        self.changed.notify_all();
    }

    /// Whether pcscd has been shown a card (what `IFDHICCPresence` answers).
    pub fn present(&self) -> bool {
        self.state().shown
    }

    /// The ATR of the card shown present.
    pub fn atr(&self) -> Option<Vec<u8>> {
        let s = self.state();
        s.shown.then(|| s.atr.clone())
    }

    /// The polling function: returns when an edge has been shown (the next presence call sees
    /// it), when pcscd asked it to stop (now or since the last return), or after `timeout`.
    pub fn wait_for_event(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut s = self.state();
        loop {
            if std::mem::take(&mut s.stop) {
                return;
            }
            if let Some(edge) = s.edges.pop_front() {
                match edge {
                    Edge::Arrived(atr) => {
                        s.shown = true;
                        s.atr = atr;
                    }
                    Edge::Left => s.shown = false,
                }
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// pcscd's stop request for the polling function: latched until it returns.
    pub fn stop(&self) {
        self.state().stop = true;
        self.changed.notify_all();
    }

    /// Sends a command with `send` (which writes it to kazasu) and waits up to `timeout` for its
    /// answer. Fails at once when no card is shown or attached, or when the card leaves.
    pub fn transmit(&self, send: impl FnOnce() -> std::io::Result<()>, timeout: Duration) -> Sent {
        self.exchange(send, timeout, true)
    }

    /// Sends a reader request (a control code, an attribute) to kazasu, which holds the slot's
    /// reader while a card is attached, whether or not pcscd has been shown it yet.
    pub fn ask(&self, send: impl FnOnce() -> std::io::Result<()>, timeout: Duration) -> Sent {
        self.exchange(send, timeout, false)
    }

    fn exchange(
        &self,
        send: impl FnOnce() -> std::io::Result<()>,
        timeout: Duration,
        needs_card_shown: bool,
    ) -> Sent {
        let number = {
            let mut s = self.state();
            if (needs_card_shown && !s.shown) || !s.attached {
                return Sent::NoCard;
            }
            s.sent += 1;
            let n = s.sent;
            s.waiting = Some(n);
            s.answer = None;
            n
        };
        if send().is_err() {
            self.state().waiting = None;
            return Sent::Lost;
        }
        let deadline = Instant::now() + timeout;
        let mut s = self.state();
        loop {
            if let Some((n, answer)) = s.answer.take()
                && n == number
            {
                s.waiting = None;
                return match answer {
                    Ok(a) => Sent::Answer(a),
                    Err(code) => Sent::Fault(code),
                };
            }
            if !s.attached {
                s.waiting = None;
                return Sent::Lost;
            }
            let now = Instant::now();
            if now >= deadline {
                s.waiting = None;
                return Sent::TimedOut;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// An answer from kazasu: for the command waiting, if any (otherwise dropped: it answers a
    /// command that already timed out).
    pub fn answered(&self, answer: Vec<u8>) {
        self.reply(Ok(answer));
    }

    /// A reader fault from kazasu for the command waiting, if any.
    pub fn faulted(&self, code: u8) {
        self.reply(Err(code));
    }

    fn reply(&self, answer: Result<Vec<u8>, u8>) {
        let mut s = self.state();
        if let Some(n) = s.waiting {
            s.answer = Some((n, answer));
            self.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const NOW: Duration = Duration::ZERO;

    #[test]
    fn a_tap_shorter_than_a_pass_is_still_two_events_one_per_pass() {
        let slot = Slot::default();
        slot.arrive(vec![0x3B, 0x80]);
        slot.leave();
        assert!(
            !slot.present(),
            "nothing shown before the polling function returns"
        );
        slot.wait_for_event(NOW);
        assert!(slot.present(), "first pass: the arrival");
        assert_eq!(slot.atr(), Some(vec![0x3B, 0x80]));
        // pcscd's own presence call inside power-up does not take the removal away.
        assert!(slot.present());
        slot.wait_for_event(NOW);
        assert!(!slot.present(), "second pass: the removal");
        assert_eq!(slot.atr(), None);
    }

    #[test]
    fn a_stop_is_latched_until_the_polling_function_returns() {
        let slot = Arc::new(Slot::default());
        slot.stop();
        let t = Instant::now();
        slot.wait_for_event(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1), "returns at once");
        let waiting = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                slot.wait_for_event(Duration::from_secs(5));
                t.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        slot.stop();
        assert!(waiting.join().unwrap() < Duration::from_secs(1));
        let t = Instant::now();
        slot.wait_for_event(Duration::from_millis(30));
        assert!(
            t.elapsed() >= Duration::from_millis(30),
            "the latch was used up"
        );
    }

    #[test]
    fn a_command_gets_its_answer_and_fails_at_once_when_the_card_leaves() {
        let slot = Arc::new(Slot::default());
        assert_eq!(
            slot.transmit(|| Ok(()), Duration::from_secs(1)),
            Sent::NoCard
        );
        slot.arrive(vec![0x3B]);
        slot.wait_for_event(NOW);
        let answering = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                slot.answered(vec![0x90, 0x00]);
            })
        };
        assert_eq!(
            slot.transmit(|| Ok(()), Duration::from_secs(5)),
            Sent::Answer(vec![0x90, 0x00])
        );
        answering.join().unwrap();
        let leaving = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                slot.leave();
            })
        };
        let t = Instant::now();
        assert_eq!(slot.transmit(|| Ok(()), Duration::from_secs(5)), Sent::Lost);
        assert!(t.elapsed() < Duration::from_secs(1));
        leaving.join().unwrap();
        // Shown present until pcscd's loop takes the removal; commands fail meanwhile.
        assert_eq!(
            slot.transmit(|| Ok(()), Duration::from_secs(5)),
            Sent::NoCard
        );
    }

    #[test]
    fn a_late_answer_is_not_taken_for_the_next_commands() {
        let slot = Slot::default();
        slot.arrive(vec![0x3B]);
        slot.wait_for_event(NOW);
        assert_eq!(
            slot.transmit(|| Ok(()), Duration::from_millis(5)),
            Sent::TimedOut
        );
        slot.answered(vec![0x6F, 0x00]); // the first command's, too late: dropped
        assert_eq!(
            slot.transmit(|| Ok(()), Duration::from_millis(5)),
            Sent::TimedOut
        );
    }
}
