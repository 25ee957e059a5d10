//! Lifting a harness run into a script ([`Harness::lift`](super::Harness::lift)): each
//! client writes down, as it goes, what it did as steps.

use super::client::Client;
use super::workload::Request;
use super::Role;
use crate::clock;
use crate::oracle::Oracle;
use crate::script::Step;
use crate::transcript::Event;
use bytes::Bytes;

impl Client {
    /// Puts down, as a script step, what `event` says this client did.
    pub(super) fn lift(&self, event: &Event) {
        let step = match event {
            Event::Connect { .. } => Step::Connect {
                at: self.connecting_since,
            },
            Event::Write { bytes } => Step::Write {
                at: clock::now(),
                bytes: bytes.clone(),
            },
            Event::HalfClose => Step::HalfClose,
            Event::Disconnect { mid_frame } => Step::Drop {
                mid_frame: *mid_frame,
            },
            _ => return,
        };
        self.push_step(step);
    }

    pub(super) fn push_step(&self, step: Step) -> Option<usize> {
        let lifter = self.shared.scripting.lifter.as_ref()?;
        Some(lifter.push(self.id, self.role, clock::now(), step))
    }

    /// `request` was drawn: its expectation goes here, filled in once its reply comes.
    pub(super) fn asked(&mut self, request: &Request) {
        self.invoked(request);
        if request.no_reply {
            return;
        }
        if let Some(at) = self.push_step(Step::Checked(Bytes::new())) {
            self.expecting.push_back((at, request.clone()));
        }
    }

    /// A reply is being read.
    pub(super) fn reading(&self) {
        self.push_step(Step::Read);
    }

    /// The oldest request waiting got `reply`: its expectation is what the session
    /// predicted (`want`), else the reply itself, judged by the session's check.
    pub(super) fn answered(&mut self, want: Option<&Bytes>, reply: &Bytes) {
        let Some(lifter) = &self.shared.scripting.lifter else {
            return;
        };
        if let Some((at, _)) = self.expecting.pop_front() {
            let step = match want {
                Some(want) => Step::ExpectBytes(want.clone()),
                None => Step::Checked(reply.clone()),
            };
            lifter.set(self.id, at, step);
        }
    }

    /// The end of a lifted client: the expectations of requests no reply came for, from
    /// the session (the run's verdict is in: asking it now changes nothing), and the close
    /// its role waits for.
    pub(super) fn lifted(&mut self) {
        let Some(lifter) = self.shared.scripting.lifter.clone() else {
            return;
        };
        while let Some((at, request)) = self.expecting.pop_front() {
            let step = match self.session.expect(&request) {
                Some(want) => Step::ExpectBytes(want),
                None => Step::Checked(Bytes::new()),
            };
            lifter.set(self.id, at, step);
        }
        let o = &self.shared.options;
        let close = match (self.role, o.idle_timeout) {
            (Role::Slowloris, _) => (o.roles.slowloris_bound, Oracle::Slowloris),
            (Role::HalfClose, _) => (o.reply_timeout, Oracle::HalfClose),
            (Role::Idle, Some(t)) => (t + t / 10, Oracle::Idle),
            (Role::Idle, None) => {
                self.push_step(Step::Drop { mid_frame: false });
                return;
            }
            _ => return,
        };
        self.push_step(Step::CloseWithin {
            within: close.0,
            oracle: close.1,
        });
    }
}
